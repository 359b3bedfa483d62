"""What a hostile or careless client finds: a body nested a thousand deep is a 400 (never
a 500), a wrong method a 405 that says which are allowed, an unknown query parameter a 400
naming it, and a partner's text in a CSV statement never runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from tests.conftest import ApiClient, shipping_policy


@pytest.mark.parametrize("path", ["/v1/quotes", "/v1/policies", "/v1/policies/batch"])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_deeply_nested_body_is_refused_with_400(api: ApiClient, path: str, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = opener * 5000 + "1" + closer * 5000
    answer = api.client.post(
        path,
        data=body,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_json"


def test_brackets_inside_strings_do_not_count(api: ApiClient) -> None:
    risk = {"platform": "[" * 500 + "{" * 500}  # text, not nesting: refused for its value
    status, body = api.post("/v1/quotes", {"product": "return_shipping", "risk": risk})
    assert status == 400 and body["error"]["code"] != "invalid_json"


def test_a_wrong_method_says_which_are_allowed(api: ApiClient) -> None:
    answer = api.client.put("/v1/quotes", headers={"Authorization": f"Bearer {api.key}"})
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "OPTIONS, POST"
    assert answer.get_json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/policies?policyholder=x", "policyholder"),
        ("/v1/claims?incident=trg_1&status=paid", "incident"),
        ("/v1/products?limit=1", "limit"),
    ],
)
def test_an_unknown_query_parameter_is_refused_naming_it(
    api: ApiClient, path: str, param: str
) -> None:
    answer = api.client.get(path, headers={"Authorization": f"Bearer {api.key}"})
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["param"] == param and error["code"] == "unknown_parameter"


def test_known_query_parameters_still_work(api: ApiClient) -> None:
    assert api.get("/v1/policies", limit="1", status="active")[0] == 200


def test_a_partner_text_cannot_run_as_a_formula_in_the_csv(api: ApiClient, app: Flask) -> None:
    for i, ref in enumerate(['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2", "plain"]):
        status, _ = api.post(
            "/v1/policies", shipping_policy(ref, order_id=f"T{i}", delivery_date="2026-12-10")
        )
        assert status == 201
    answer = api.client.get(
        "/v1/statements",
        query_string={"period": "2026-11", "format": "csv"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    refs = {row["external_ref"] for row in rows if row["policy"] != "TOTAL"}
    assert refs == {'\'=HYPERLINK("http://x")', "'+1", "'@SUM(A1)", "'-2", "plain"}
    # amounts stay numbers, negative ones too
    assert all(not row["premium"].startswith("'") for row in rows)
