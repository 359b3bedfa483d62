"""openapi.yaml is generated from the code and the product files; real responses match it."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
import yaml
from flask import Flask
from openapi_spec_validator import validate

from policy_service import create_app
from policy_service.api.docs import risk_schema_name
from policy_service.cli import build_openapi, openapi_yaml
from policy_service.config import Config
from pricing.loader import load_catalog
from tests.conftest import (
    PRODUCTS,
    ROOT,
    ApiClient,
    Clock,
    flight_policy,
    shipping_policy,
    shipping_risk,
)

SPEC_FILE = ROOT / "openapi.yaml"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


def test_openapi_yaml_is_up_to_date() -> None:
    generated = openapi_yaml(build_openapi(PRODUCTS))
    assert generated == SPEC_FILE.read_text(encoding="utf-8"), (
        "openapi.yaml drifted from the code: run `policy-service openapi -o openapi.yaml`"
    )


def test_openapi_yaml_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert {"/v1/products", "/v1/quotes", "/v1/policies", "/v1/policies/batch"} <= set(
        spec["paths"]
    )


def test_served_spec_is_the_file(config: Config, engine: sa.Engine, spec: dict[str, Any]) -> None:
    # once every edition on disk is in force (the file describes them all)
    newest = max(
        e.effective_from for p in load_catalog(PRODUCTS).products.values() for e in p.editions
    )
    app = create_app(config, clock=Clock(newest))
    try:
        assert app.test_client().get("/openapi.json").get_json() == spec
    finally:
        app.extensions["policy_service"].dispose()


def test_examples_per_product_are_in_the_spec(spec: dict[str, Any]) -> None:
    # The spec shows each product's newest edition with its example as of the edition's
    # first day (an example may be written relative to the time of quoting).
    schemas = spec["components"]["schemas"]
    examples = spec["paths"]["/v1/quotes"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    for product in load_catalog(PRODUCTS).products.values():
        edition = product.editions[-1]
        example = edition.example(edition.effective_from)
        assert schemas[risk_schema_name(product.code)]["example"] == example
        assert examples[product.code]["value"]["risk"] == example
        jsonschema.validate(example, edition.inputs.json_schema())


def test_interactive_docs_need_no_cdn(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs").get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in page
    assert "//cdn" not in page and "unpkg" not in page
    with client.get("/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200
        assert asset.content_type.startswith("text/javascript")


def _json_schema(node: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: inline $refs, turn nullable into a null type."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {
        k: _json_schema(v, components) for k, v in node.items() if k not in ("nullable", "example")
    }
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _check(spec: dict[str, Any], name: str, body: Any) -> None:
    components = spec["components"]["schemas"]
    schema = _json_schema(components[name], components)
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())


def test_responses_match_the_documented_schemas(spec: dict[str, Any], api: ApiClient) -> None:
    _check(spec, "ProductList", api.get("/v1/products")[1])
    _check(
        spec,
        "Quote",
        api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})[1],
    )
    status, pol = api.post("/v1/policies", flight_policy())
    _check(spec, "Policy", pol)
    _check(spec, "Policy", api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})[1])
    _check(spec, "PolicyList", api.get("/v1/policies")[1])
    batch = api.post(
        "/v1/policies/batch", {"items": [shipping_policy("a"), shipping_policy("b", category="x")]}
    )[1]
    _check(spec, "BatchResponse", batch)
    for status, err in (
        api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk(category="x")}),
        api.post("/v1/policies", flight_policy()),
        api.get("/v1/policies/pol_missing"),
    ):
        assert status >= 400
        _check(spec, "Error", err)
    # the request examples validate against the request schemas
    for example in spec["paths"]["/v1/policies"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"].values():
        _check(spec, "IssueRequest", example["value"])


def test_claim_responses_match_the_documented_schemas(
    spec: dict[str, Any], api: ApiClient, app: Flask, engine: Any, clock: Any
) -> None:
    from tests.claims_helpers import (
        DEPARTURE,
        Bearer,
        flight_status,
        provider_key,
        shipment_return,
        staff_token,
    )

    pol = api.post("/v1/policies", flight_policy(scheduled_departure=DEPARTURE))[1]
    ship = api.post("/v1/policies", shipping_policy("order-1"))[1]
    clock.advance(hours=27)
    feed = Bearer(app.test_client(), provider_key(engine))
    status, trigger = feed.post("/v1/trigger-events", flight_status(245))
    assert status == 201
    _check(spec, "TriggerEvent", trigger)
    _check(spec, "TriggerEvent", feed.get(f"/v1/trigger-events/{trigger['id']}")[1])
    _check(spec, "TriggerEventRequest", flight_status(245))
    _check(spec, "TriggerEventRequest", shipment_return("1"))
    claims = api.get("/v1/claims", policy=pol["id"])[1]
    _check(spec, "ClaimList", claims)
    _check(spec, "Claim", api.get(f"/v1/claims/{claims['data'][0]['id']}")[1])
    filed = api.post(
        "/v1/claims",
        {"policy": ship["id"], "type": "return_shipping_cost", "description": "paid by hand"},
    )[1]
    _check(spec, "Claim", filed)
    ops = Bearer(app.test_client(), staff_token(engine, "a@ops.example", "admin"))
    _check(spec, "OpsClaimList", ops.get("/v1/ops/claims")[1])
    _check(spec, "OpsClaimDetail", ops.get(f"/v1/ops/claims/{filed['id']}")[1])
    done = ops.post(
        f"/v1/ops/claims/{filed['id']}/approve",
        {"amount": {"amount": "8.00", "currency": "CNY"}, "reason": "receipt"},
    )[1]
    _check(spec, "OpsClaim", done)
    _check(spec, "Statement", api.get("/v1/statements", period="2026-11")[1])


def test_this_rounds_responses_match_the_documented_schemas(
    spec: dict[str, Any], api: ApiClient, app: Flask, engine: Any, clock: Any
) -> None:
    """Endorsements, incidents, months, privacy and a claim in the way, as really answered
    (the product and its paying report read from products/)."""
    from datetime import UTC, timedelta

    from tests.claims_helpers import Bearer, provider_key
    from tests.endorsement_helpers import CASE, EDITION, MOVED, changes, issue

    policy = issue(api, clock)
    risk, _, _ = changes()
    status, endorsed = api.post(
        f"/v1/policies/{policy['id']}/endorsements", {"risk": {k: risk[k] for k in MOVED}}
    )  # and back below: the report then pays on the policy's own flight
    assert status == 201, endorsed
    _check(spec, "Endorsement", endorsed)
    _check(spec, "EndorsementList", api.get(f"/v1/policies/{policy['id']}/endorsements")[1])
    back = {"risk": {k: policy["risk"][k] for k in MOVED}}
    assert api.post(f"/v1/policies/{policy['id']}/endorsements", back)[0] == 201
    filed = {"policy": policy["id"], "type": EDITION.benefits[0].code, "description": "late"}
    assert api.post("/v1/claims", filed)[0] == 201
    moved = {"risk": {k: risk[k] for k in MOVED}}
    status, in_the_way = api.post(f"/v1/policies/{policy['id']}/endorsements", moved)
    assert (status, in_the_way["error"]["code"]) == (409, "claim_exists"), in_the_way
    _check(spec, "Error", in_the_way)
    fact = CASE.trigger
    assert fact is not None
    clock.now = fact.observed_at.astimezone(UTC) + timedelta(minutes=1)
    report = {
        "type": fact.type.name,
        "data": fact.type.fields.to_json(fact.values),
        "observed_at": fact.observed_at.isoformat(),
    }
    feed = Bearer(app.test_client(), provider_key(engine))
    assert feed.post("/v1/trigger-events", report)[0] == 201
    _check(spec, "TriggerEventList", api.get("/v1/trigger-events")[1])  # result: null
    _check(spec, "TriggerEventList", feed.get("/v1/trigger-events")[1])
    _check(spec, "Policy", api.get(f"/v1/policies/{policy['id']}", expand="claims")[1])
    _check(spec, "StatementList", api.get("/v1/statements")[1])
    person = {"id_number": "11010519491231002X"}
    _check(spec, "PrivacyExport", api.post("/v1/privacy/exports", person)[1])
    status, erased = api.post("/v1/privacy/erasures", person)
    _check(spec, "PrivacyErasure" if status == 200 else "Error", erased)
