"""A policy with its claims (?expand=claims), and the list of a partner's statements. The
product and the report that pays its claim are read from products/ (a paying case of its
tests.yaml, tests/endorsement_helpers.py)."""

from __future__ import annotations

from datetime import UTC, timedelta

import sqlalchemy as sa
from flask import Flask

from tests.claims_helpers import Bearer, provider_key
from tests.conftest import ApiClient, Clock, add_key
from tests.endorsement_helpers import CASE, issue


def _paid_claim(app: Flask, engine: sa.Engine, api: ApiClient, clock: Clock) -> tuple[str, str]:
    policy = issue(api, clock)
    fact = CASE.trigger
    assert fact is not None
    clock.now = fact.observed_at.astimezone(UTC) + timedelta(minutes=1)
    feed = Bearer(app.test_client(), provider_key(engine))
    report = {
        "type": fact.type.name,
        "data": fact.type.fields.to_json(fact.values),
        "observed_at": fact.observed_at.isoformat(),
    }
    assert feed.post("/v1/trigger-events", report)[0] == 201
    [claim] = api.get("/v1/claims", policy=policy["id"])[1]["data"]
    return policy["id"], claim["id"]


def test_a_policy_shows_its_claims_when_asked(
    app: Flask, engine: sa.Engine, api: ApiClient, clock: Clock
) -> None:
    policy_id, claim_id = _paid_claim(app, engine, api, clock)
    _, plain = api.get(f"/v1/policies/{policy_id}")
    assert "claims" not in plain
    status, expanded = api.get(f"/v1/policies/{policy_id}", expand="claims")
    assert status == 200
    assert [c["id"] for c in expanded["claims"]] == [claim_id]
    single = api.get(f"/v1/claims/{claim_id}")[1]
    single.pop("attachments")
    assert expanded["claims"] == [single]
    assert {k: v for k, v in expanded.items() if k != "claims"} == plain
    status, error = api.get(f"/v1/policies/{policy_id}", expand="everything")
    assert (status, error["error"]["param"]) == (400, "expand.0")
    # a key that may read policies but not claims does not see them this way either
    reader = add_key(engine, api.partner_id, False, ("policies:read",))
    narrow = ApiClient(api.client, reader, api.partner_id)
    assert narrow.get(f"/v1/policies/{policy_id}")[0] == 200
    assert narrow.get(f"/v1/policies/{policy_id}", expand="claims")[0] == 403


def test_the_months_are_listed_open_first_and_ended_ones_closed(
    app: Flask, engine: sa.Engine, api: ApiClient, clock: Clock
) -> None:
    policy_id, _ = _paid_claim(app, engine, api, clock)  # issued, then paid months later
    status, months = api.get("/v1/statements")
    assert status == 200, months
    current, *closed = months["data"]
    assert (current["status"], current["id"], current["totals"]) == ("open", None, None)
    assert current["url"] == f"/v1/statements?period={current['period']}"
    # the month of the sale has ended: listing closed it, as reading it would
    assert closed and all(m["status"] == "closed" and m["id"].startswith("stm_") for m in closed)
    assert [m["period"] for m in closed] == sorted((m["period"] for m in closed), reverse=True)
    sale = closed[-1]
    statement = api.get(sale["url"])[1]
    assert statement["totals"] == sale["totals"]
    assert sale["line_count"] == len(statement["lines"])
    assert policy_id in {line["policy"] for line in statement["lines"]}

    clock.now += timedelta(days=40)  # the month of the payout ends too
    _, later = api.get("/v1/statements")
    assert later["data"][0]["status"] == "open"
    assert later["data"][0]["period"] > current["period"]
    payout_month = next(m for m in later["data"] if m["period"] == current["period"])
    assert payout_month["status"] == "closed" and payout_month["line_count"] >= 1
