"""Actuaries edit product files while the service runs: valid changes go live, invalid ones
are refused and the last valid version keeps serving; used editions never change.
New editions and their publishing: test_publishing.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from policy_service.domain.errors import Conflict
from policy_service.services import trigger_publishing
from pricing.loader import load_trigger_types
from pricing.loading.compat import trigger_uses
from tests.conftest import ApiClient, Clock, shipping_risk

ED = "return_shipping/editions/2026-11-25"


def _premium(live_api: ApiClient) -> str:
    status, quote = live_api.post(
        "/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()}
    )
    assert status == 201, quote
    return quote["premium"]["total"]["amount"]


def _reload(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["policy_service"].catalog.reload()


def test_invalid_edit_is_refused_and_the_last_valid_version_serves(
    live_app: Flask, live_api: ApiClient, products_copy: Path
) -> None:
    assert _premium(live_api) == "2.09"
    table = products_copy / ED / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,two"))
    report = _reload(live_app)
    assert report.refused["return_shipping"][0].startswith(f"{ED}/category.csv:3 (factor):")
    assert _premium(live_api) == "2.09"
    assert live_app.extensions["policy_service"].catalog.refused["return_shipping"]


def test_used_edition_cannot_change(
    live_app: Flask, live_api: ApiClient, products_copy: Path
) -> None:
    _premium(live_api)  # a quote now uses edition 2026-11-25
    table = products_copy / ED / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,2.40"))
    report = _reload(live_app)
    [message] = report.refused["return_shipping"]
    assert "already used" in message and "publish a new edition" in message
    assert _premium(live_api) == "2.09"


def test_the_request_path_notices_changed_files(
    live_app: Flask, live_api: ApiClient, products_copy: Path
) -> None:
    catalog = live_app.extensions["policy_service"].catalog
    table = products_copy / ED / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,oops"))
    catalog._next_check = 0.0  # as if the reload interval had passed
    assert _premium(live_api) == "2.09"
    assert "return_shipping" in catalog.refused


def test_a_retry_replays_even_after_the_product_changed(
    live_app: Flask, live_api: ApiClient, products_copy: Path
) -> None:
    body = {"product": "return_shipping", "external_ref": "o-1", "risk": shipping_risk()}
    first = live_api.post("/v1/policies", body, key="retry-1")
    assert first[0] == 201
    shutil.rmtree(products_copy / "return_shipping")
    assert _reload(live_app).removed == ["return_shipping"]
    assert live_api.post("/v1/policies", body, key="retry-1") == first
    status, err = live_api.post("/v1/policies", {**body, "external_ref": "o-2"}, key="retry-2")
    assert (status, err["error"]["code"]) == (400, "unknown_product")


def test_trigger_files_are_in_force_once_published_unless_they_break_the_rules(
    live_app: Flask, products_copy: Path, clock: Clock
) -> None:
    services = live_app.extensions["policy_service"]
    catalog = services.catalog
    name = next(r.trigger for p in catalog.all_loaded() for e in p.editions for r in e.claims)
    before = catalog.trigger_type(name)
    spec = before.fields.specs[0]
    path = products_copy / "triggers" / f"{name}.yaml"
    text = path.read_text()

    def publish() -> trigger_publishing.TriggerPublished:
        return trigger_publishing.publish(
            services.uow,
            products_copy,
            load_trigger_types(products_copy),
            name,
            trigger_uses(catalog.all_loaded()),
            "alice",
            None,
            clock.now,
        )

    # a field retyped would no longer match the policies issued: the file is read, not
    # put in force, and publishing it is refused
    other = "integer" if spec.type != "integer" else "string"
    declared = f"  {spec.name}:\n    type: {spec.type}"
    path.write_text(text.replace(declared, f"  {spec.name}:\n    type: {other}", 1))
    report = _reload(live_app)
    assert any(f"triggers/{name}.yaml changed after" in w for w in report.trigger_warnings)
    assert catalog.trigger_type(name) == before
    with pytest.raises(Conflict) as refused:
        publish()
    assert refused.value.code == "trigger_type_breaks_rules"
    assert f"field {spec.name!r} changes type" in str(refused.value)

    # a new optional field is published, taken at once, and described to partners
    added = "fields:\n  remark:\n    type: string\n    required: false\n"
    path.write_text(text.replace("fields:\n", added, 1))
    assert not _reload(live_app).trigger_warnings[1:]  # still only "changed after"
    assert "remark" not in catalog.trigger_type(name).fields.by_name
    assert publish().recorded
    report = _reload(live_app)
    assert not report.trigger_warnings and name in report.triggers
    assert "remark" in catalog.trigger_type(name).fields.by_name
    assert not publish().recorded  # the same text twice records nothing
    spec_json = live_app.test_client().get("/openapi.json").get_json()
    schema_name = "".join(p.capitalize() for p in name.replace(".", "_").split("_")) + "Trigger"
    assert "remark" in spec_json["components"]["schemas"][schema_name]["properties"]
