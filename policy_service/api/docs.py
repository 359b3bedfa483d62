"""OpenAPI helpers: shared parameters, error responses, and the schemas of what is in force
(each product's risk, each trigger type's fact), filled in whenever the spec is served so
that a product published while the service runs is described at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Api, Blueprint

from pricing.model import Product
from pricing.triggers import TriggerType

from .schemas import BatchItemSchema, ErrorSchema, StatementListSchema

IDEMPOTENCY_PARAM = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Same key and body: the first response is replayed (header Idempotent-Replayed). "
    "Same key, other body: 400 idempotency_error. Keys are kept 24 hours.",
}

ERROR_TEXT = {
    400: "Invalid request: the `param` names the field",
    401: "Missing or invalid API key",
    402: "Stripe billing: the card was declined (`decline_code`); nothing is in force or changed",
    403: "The API key lacks the scope",
    404: "No such object (also another partner's objects)",
    409: "Conflict with the current state, e.g. external_ref already used",
    413: "Request body too large",
    422: "Refused: ineligible risk, expired quote, duplicate cover",
    503: "Stripe billing: the payment API did not answer; nothing is final: retry with the "
    "same Idempotency-Key",
    429: "Too many requests with this API key: retry after Retry-After seconds "
    "(RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset are on every answer)",
}


def errors(blp: Blueprint, *codes: int) -> Callable[[Any], Any]:
    def decorate(fn: Any) -> Any:
        for code in (401, 429, *codes):
            fn = blp.alt_response(code, schema=ErrorSchema, description=ERROR_TEXT[code])(fn)
        return fn

    return decorate


def risk_schema_name(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_")) + "Risk"


def add_static_schemas(api: Api) -> None:
    """What the code alone defines: the security scheme and the batch item."""
    spec = api.spec
    assert spec is not None
    spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "sk_test_... or sk_live_..."},
    )
    spec.options["security"] = [{"bearerAuth": []}]
    spec.components.schema("StatementList", schema=StatementListSchema)
    spec.components.schema("BatchItem", schema=BatchItemSchema)


def in_force_schemas(
    products: list[Product], triggers: list[TriggerType]
) -> dict[str, dict[str, Any]]:
    """One component schema per product's risk (from its edition on sale last), with its
    example, and one per trigger type's fact."""
    out: dict[str, dict[str, Any]] = {}
    for product in products:
        edition = product.editions[-1] if product.editions else None
        if edition is None:
            continue
        schema = dict(edition.inputs.json_schema())
        schema["description"] = f"Risk of {product.code} ({product.name}), edition {edition.id}"
        schema["example"] = edition.example(edition.effective_from)
        out[risk_schema_name(product.code)] = schema
    for trigger in triggers:
        schema = dict(trigger.fields.json_schema())
        names = " or ".join(" + ".join(s) for s in trigger.subjects)
        schema["description"] = f"{trigger.description} Names its subject by {names}."
        out[trigger_schema_name(trigger.name)] = schema
    return out


def trigger_schema_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace(".", "_").split("_")) + "Trigger"


def product_examples(products: list[Product]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for product in products:
        if not product.editions:
            continue
        edition = product.editions[-1]
        value: dict[str, Any] = {
            "product": product.code,
            "risk": edition.example(edition.effective_from),
            "external_ref": f"{product.code}-10001",
        }
        if product.policyholder == "required":
            value["policyholder"] = {
                "name": "张三",
                "id_type": "cn_resident_id",
                "id_number": "11010519491231002X",
            }
        out[product.code] = {"summary": product.name, "value": value}
    return out


def postprocess(
    spec: dict[str, Any], products: list[Product], triggers: list[TriggerType]
) -> dict[str, Any]:
    """Add the schemas of the products and trigger types in force, point `risk` and `data`
    at them, and add per-product examples to the POST bodies."""
    refs = [
        {"$ref": f"#/components/schemas/{risk_schema_name(p.code)}"} for p in products if p.editions
    ]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(in_force_schemas(products, triggers))
    for name in ("QuoteRequest", "IssueRequest", "BatchItem"):
        if name in schemas and refs:
            # anyOf, not oneOf: two products may take the same inputs, and `product` says
            # which schema applies (OpenAPI 3.0 cannot tie the two fields together)
            schemas[name]["properties"]["risk"] = {
                "anyOf": refs,
                "description": "the inputs of the product named by `product`, as in its risk "
                "schema",
            }
    if "TriggerEventRequest" in schemas and triggers:
        properties = schemas["TriggerEventRequest"]["properties"]
        properties["type"] = {**properties["type"], "enum": [t.name for t in triggers]}
        properties["data"] = {
            "anyOf": [
                {"$ref": f"#/components/schemas/{trigger_schema_name(t.name)}"} for t in triggers
            ],
            "description": "the fact, as the schema of the trigger type named by `type` says",
        }
    if "BatchRequest" in schemas:
        schemas["BatchRequest"]["properties"]["items"]["items"] = {
            "$ref": "#/components/schemas/BatchItem"
        }
    # without ?period, GET /v1/statements lists the months
    listing = spec.get("paths", {}).get("/v1/statements", {}).get("get", {}).get("responses", {})
    if "200" in listing:
        json_answer = listing["200"]["content"]["application/json"]
        json_answer["schema"] = {
            "oneOf": [json_answer["schema"], {"$ref": "#/components/schemas/StatementList"}]
        }
    # ?format=csv answers a CSV file: documented beside the JSON
    for path in ("/v1/statements", "/v1/statements/{statement_id}"):
        answer = spec.get("paths", {}).get(path, {}).get("get", {}).get("responses", {}).get("200")
        if answer is not None:
            answer.setdefault("content", {})["text/csv"] = {
                "schema": {"type": "string", "description": "the statement as CSV (?format=csv)"}
            }
    examples = product_examples(products)
    for path, method in (("/v1/quotes", "post"), ("/v1/policies", "post")):
        op = spec.get("paths", {}).get(path, {}).get(method)
        if not op:
            continue
        content = op["requestBody"]["content"]["application/json"]
        content["examples"] = {
            code: (
                ex
                if path == "/v1/policies"
                else {
                    "summary": ex["summary"],
                    "value": {k: v for k, v in ex["value"].items() if k != "policyholder"},
                }
            )
            for code, ex in examples.items()
        }
    return spec
