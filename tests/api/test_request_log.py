"""One JSON log line per request with its id (taken from X-Request-Id when it is a plain
token, else made, and echoed), the route's pattern, status, latency and partner; never a
query string, a body, a key or personal data; a CR or LF in anything logged is escaped."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from policy_service.presentation.logs import JsonFormatter, TextFormatter
from tests.conftest import RESIDENT_ID, ApiClient, flight_policy, passenger


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("policy_service.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _records(out: io.StringIO) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_request_is_one_line_with_its_id_and_no_personal_data(
    api: ApiClient, lines: io.StringIO
) -> None:
    body = flight_policy("booking-77", holder=passenger(RESIDENT_ID, name="王小明"))
    status, policy = api.post("/v1/policies", body, key="k-77")
    assert status == 201
    answer = api.client.get(
        f"/v1/policies/{policy['id']}?expand=claims&secret=hunter2",
        headers={"Authorization": f"Bearer {api.key}", "X-Request-Id": "support-case-42"},
    )
    assert answer.headers["X-Request-Id"] == "support-case-42"
    issued, read = _records(lines)[-2:]
    assert issued["route"] == "/v1/policies" and issued["status"] == 201
    assert len(issued["request_id"]) == 32  # made here: none was given
    assert read == {
        **read,
        "request_id": "support-case-42",
        "method": "GET",
        "route": "/v1/policies/<policy_id>",
        "status": read["status"],
        "partner_id": api.partner_id,
    }
    assert read["latency_ms"] >= 0
    text = lines.getvalue()
    for private in (RESIDENT_ID, "王小明", "booking-77", api.key, "hunter2", policy["id"]):
        assert private not in text


def test_an_odd_request_id_is_replaced_and_nothing_forges_a_line(
    app: Flask, lines: io.StringIO
) -> None:
    client = app.test_client()
    answer = client.get("/v1/products%0Afake%20line", headers={"X-Request-Id": "<b>x</b> y"})
    assert answer.status_code == 401
    made = answer.headers["X-Request-Id"]
    assert made != "<b>x</b> y" and len(made) == 32
    (record,) = _records(lines)
    assert record["request_id"] == made and record["status"] == 401
    assert "partner_id" not in record


def test_text_logs_escape_line_breaks() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a\nforged\r\nline", None, None)
    record.request_id = "r1"
    text = TextFormatter().format(record)
    assert "\n" not in text and "\\nforged\\r\\nline" in text and "request_id=r1" in text
    line = JsonFormatter().format(record)
    assert "\n" not in line and json.loads(line)["message"] == "a\nforged\r\nline"
