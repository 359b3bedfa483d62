"""Actuaries edit product files while the service runs: valid changes go live, invalid ones
are refused and the last valid version keeps serving; used editions never change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service import create_app
from policy_service.config import Config
from tests.conftest import ApiClient, Clock, make_partner, shipping_risk

ED = "return_shipping/editions/2026-11-25"


@pytest.fixture
def live_app(config: Config, engine: sa.Engine, clock: Clock, products_copy: Path) -> Flask:
    app = create_app(
        config.with_(products_dir=products_copy, products_reload_seconds=1), clock=clock
    )
    yield app
    app.extensions["policy_service"].engine.dispose()


@pytest.fixture
def client(live_app: Flask, engine: sa.Engine) -> ApiClient:
    partner_id, key = make_partner(engine)
    return ApiClient(live_app.test_client(), key, partner_id)


def _premium(client: ApiClient) -> str:
    status, quote = client.post(
        "/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()}
    )
    assert status == 201, quote
    return quote["premium"]["total"]["amount"]


def _reload(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["policy_service"].catalog.reload()


def test_invalid_edit_is_refused_and_the_last_valid_version_serves(
    live_app: Flask, client: ApiClient, products_copy: Path
) -> None:
    assert _premium(client) == "2.09"
    table = products_copy / ED / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,two"))
    report = _reload(live_app)
    assert report.refused["return_shipping"][0].startswith(f"{ED}/category.csv:3 (factor):")
    assert _premium(client) == "2.09"
    assert live_app.extensions["policy_service"].catalog.refused["return_shipping"]


def test_used_edition_cannot_change(
    live_app: Flask, client: ApiClient, products_copy: Path
) -> None:
    _premium(client)  # a quote now uses edition 2026-11-25
    table = products_copy / ED / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,2.40"))
    report = _reload(live_app)
    [message] = report.refused["return_shipping"]
    assert "already used" in message and "publish a new edition" in message
    assert _premium(client) == "2.09"


def test_new_edition_goes_live_at_its_effective_date(
    live_app: Flask, client: ApiClient, products_copy: Path, clock: Clock
) -> None:
    assert _premium(client) == "2.09"
    new = products_copy / "return_shipping/editions/2026-12"
    shutil.copytree(products_copy / ED, new)
    (new / "edition.yaml").write_text(
        (new / "edition.yaml")
        .read_text()
        .replace(
            "effective_from: 2026-11-25T08:00:00+08:00", "effective_from: 2026-11-27T00:00:00+08:00"
        )
    )
    (new / "category.csv").write_text(
        (new / "category.csv").read_text().replace("apparel,2.20", "apparel,2.40")
    )
    # an edition nobody used yet may still be corrected
    (new / "region.csv").write_text(
        (new / "region.csv").read_text().replace("cn_north,1.05", "cn_north,1.06")
    )
    assert _reload(live_app).loaded == ["return_shipping"]
    (new / "region.csv").write_text(
        (new / "region.csv").read_text().replace("cn_north,1.06", "cn_north,1.05")
    )
    assert _reload(live_app).loaded == ["return_shipping"]
    assert _premium(client) == "2.09"  # not in force yet
    clock.advance(days=2)
    status, quote = client.post(
        "/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()}
    )
    assert status == 201
    assert quote["edition"]["id"] == "2026-12"
    # 0.80 x 2.40 x 1.00 x 1.00 x 1.10 x 1.08 = 2.28096
    assert quote["premium"]["total"]["amount"] == "2.28"


def test_the_request_path_notices_changed_files(
    live_app: Flask, client: ApiClient, products_copy: Path
) -> None:
    catalog = live_app.extensions["policy_service"].catalog
    table = products_copy / ED / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,oops"))
    catalog._next_check = 0.0  # as if the reload interval had passed
    assert _premium(client) == "2.09"
    assert "return_shipping" in catalog.refused


def test_a_retry_replays_even_after_the_product_changed(
    live_app: Flask, client: ApiClient, products_copy: Path
) -> None:
    body = {"product": "return_shipping", "external_ref": "o-1", "risk": shipping_risk()}
    first = client.post("/v1/policies", body, key="retry-1")
    assert first[0] == 201
    shutil.rmtree(products_copy / "return_shipping")
    assert _reload(live_app).removed == ["return_shipping"]
    assert client.post("/v1/policies", body, key="retry-1") == first
    status, err = client.post("/v1/policies", {**body, "external_ref": "o-2"}, key="retry-2")
    assert (status, err["error"]["code"]) == (400, "unknown_product")
