"""The API speaks Chinese to a caller whose Accept-Language prefers it: error messages,
a product's refusal reasons and its texts; codes, params and money never change. The
products are read from products/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pricing.loader import load_catalog
from pricing.model import Product
from tests.conftest import PRODUCTS, ApiClient, Clock

HAN = re.compile(r"[\u4e00-\u9fff]")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def _refusing_case(clock: Clock) -> tuple[Product, dict[str, Any], str]:
    """A product with a Chinese message for a reason one of its premium test cases is
    refused for, at a time its edition is on sale."""
    for product in load_catalog(PRODUCTS).products.values():
        for case in product.tests:
            refused = case.expect.get("refused") or []
            edition = product.edition_at(case.quoted_at)
            if (
                case.kind == "premium"
                and edition
                and any(c in product.messages_zh for c in refused)
            ):
                clock.now = case.quoted_at
                risk = edition.inputs.to_json(edition.inputs.parse(case.risk))
                code = next(c for c in refused if c in product.messages_zh)
                return product, risk, code
    raise AssertionError("no product refuses a test case for a reason it translates")


def _post(api: ApiClient, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, Any]:
    r = api.client.post(path, json=body, headers={"Authorization": f"Bearer {api.key}", **headers})
    return r.status_code, r.get_json(), r.headers


def test_a_refusal_in_chinese_keeps_its_codes(api: ApiClient, clock: Clock) -> None:
    product, risk, code = _refusing_case(clock)
    body = {"product": product.code, "risk": risk}
    status, english, _ = _post(api, "/v1/quotes", body, {})
    status_zh, chinese, headers = _post(api, "/v1/quotes", body, ZH)
    assert status == status_zh == 422
    assert headers["Content-Language"] == "zh" and "Accept-Language" in headers["Vary"]
    assert not HAN.search(english["error"]["message"])
    assert product.messages_zh[code] in chinese["error"]["message"]
    assert {k: v for k, v in chinese["error"].items() if k not in ("message", "reasons")} == {
        k: v for k, v in english["error"].items() if k not in ("message", "reasons")
    }
    assert [r["code"] for r in chinese["error"]["reasons"]] == [
        r["code"] for r in english["error"]["reasons"]
    ]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/quotes", {"risk": {}}, "product"),
        ("/v1/quotes", {"product": "nope", "risk": {}, "colour": 1}, "colour"),
        ("/v1/policies/pol_nope/cancel", {"reason": "other"}, None),
    ],
)
def test_validation_errors_in_chinese_name_the_same_field(
    api: ApiClient, path: str, body: Any, param: str | None
) -> None:
    status, english, _ = _post(api, path, body, {})
    status_zh, chinese, _ = _post(api, path, body, ZH)
    assert status == status_zh and status >= 400
    assert HAN.search(chinese["error"]["message"]), chinese
    assert chinese["error"].get("param") == english["error"].get("param") == param
    assert chinese["error"]["code"] == english["error"]["code"]


def test_a_products_texts_in_chinese(api: ApiClient) -> None:
    _, products = api.get("/v1/products")
    r = api.client.get("/v1/products", headers={"Authorization": f"Bearer {api.key}", **ZH})
    chinese = {p["code"]: p for p in r.get_json()["data"]}
    for english in products["data"]:
        zh = chinese[english["code"]]
        assert zh["name"] == english["name_zh"] and HAN.search(zh["description"])
        assert [e["code"] for e in zh["eligibility"]] == [e["code"] for e in english["eligibility"]]
        assert zh["risk_schema"] == english["risk_schema"]
    catalog = load_catalog(PRODUCTS).products
    for code, zh in chinese.items():
        for reason in zh["eligibility"]:
            if reason["code"] in catalog[code].messages_zh:
                assert reason["message"] == catalog[code].messages_zh[reason["code"]]
