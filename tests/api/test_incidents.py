"""Incidents: "what did the report on this flight do?" A partner lists the trigger reports
that decided claims on its policies (never another partner's), filters them by type,
status, observed dates and the fact's fields, and lists an incident's claims; the console
shows one report with every policy it matched. The product and a paying report are read
from products/ (tests/endorsement_helpers.py); another subject is the moved one."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from tests.claims_helpers import Bearer, provider_key
from tests.conftest import ApiClient, Clock
from tests.console_helpers import logged_in
from tests.endorsement_helpers import CASE, MOVED, PRODUCT, changes, issue


def _report(values: dict[str, Any], shift: timedelta = timedelta(0)) -> dict[str, Any]:
    fact = CASE.trigger
    assert fact is not None
    data = {
        k: values.get(k, v + shift if hasattr(v, "tzinfo") and shift else v)
        for k, v in fact.values.items()
    }
    return {
        "type": fact.type.name,
        "data": fact.type.fields.to_json(data),
        "observed_at": (fact.observed_at + shift).isoformat(),
    }


def _issue_on_moved_subject(api: ApiClient, clock: Clock) -> dict[str, Any]:
    """A policy on another subject (the case's risk with the claim's fields moved)."""
    risk, _, _ = changes()
    body: dict[str, Any] = {"product": PRODUCT.code, "external_ref": "elsewhere", "risk": risk}
    if PRODUCT.policyholder == "required":
        body["policyholder"] = {
            "name": "李四",
            "id_type": "passport",
            "id_number": "E12345678",
        }
    status, policy = api.post("/v1/policies", body)
    assert status == 201, policy
    return policy


def test_a_partner_sees_the_reports_that_decided_its_claims_and_only_those(
    app: Flask, engine: sa.Engine, api: ApiClient, other_api: ApiClient, clock: Clock
) -> None:
    mine = issue(api, clock)
    theirs = _issue_on_moved_subject(other_api, clock)
    fact = CASE.trigger
    assert fact is not None
    _, new, shift = changes()
    feed = Bearer(app.test_client(), provider_key(engine))
    clock.now = (fact.observed_at + shift).astimezone(UTC) + timedelta(minutes=1)
    status, here = feed.post("/v1/trigger-events", _report({}))
    assert status == 201, here
    status, there = feed.post("/v1/trigger-events", _report(new, shift))
    assert status == 201, there

    def listed(who: ApiClient, **query: Any) -> list[str]:
        status, page = who.get("/v1/trigger-events", **query)
        assert status == 200, page
        return [t["id"] for t in page["data"]]

    assert listed(api) == [here["id"]]
    # what the report did across partners is the provider's to read, not a partner's
    assert api.get("/v1/trigger-events")[1]["data"][0]["result"] is None
    assert listed(other_api) == [there["id"]]
    assert listed(api, type=fact.type.name, status="processed") == [here["id"]]
    assert listed(api, status="superseded") == []
    name = next(iter(n for n in MOVED if n in fact.values))
    value = here["data"][name]
    assert listed(api, subject=f"{name}:{value}") == [here["id"]]
    assert listed(api, subject=f"{name}:{value}x") == []
    day = fact.observed_at.astimezone(UTC).date()
    assert listed(api, observed_from=str(day - timedelta(days=1))) == [here["id"]]
    assert listed(api, observed_from=str(day + timedelta(days=2))) == []
    status, error = api.get("/v1/trigger-events", observed_from="0001-01-01")  # the fuzzer's
    assert (status, error["error"]["param"]) == (400, "observed_from")
    status, error = api.get("/v1/trigger-events", subject="no-colon")
    assert (status, error["error"]["param"]) == (400, "subject.0")
    status, posted = feed.get("/v1/trigger-events")  # a provider: what it posted
    assert [t["id"] for t in posted["data"]] == [there["id"], here["id"]]

    # the incident's claims: mine only, even when asked for the other partner's report
    [claim] = api.get("/v1/claims", trigger_event=here["id"])[1]["data"]
    assert claim["policy"] == mine["id"]
    assert api.get("/v1/claims", trigger_event=there["id"])[1]["data"] == []

    # the console: the report with every policy it matched, its claim and the totals
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    listing = console.get(f"/ops/incidents?type={fact.type.name}").get_data(as_text=True)
    assert here["id"] in listing and there["id"] in listing
    page = console.get(f"/ops/incidents/{here['id']}").get_data(as_text=True)
    matched = page[page.index('id="matched"') : page.index('id="totals"')]
    assert set(re.findall(r'href="/ops/policies/(pol_[^"]+)"', matched)) == {mine["id"]}
    assert claim["id"] in matched and theirs["id"] not in page
    assert console.get("/ops/incidents/trg_nope").status_code == 404
