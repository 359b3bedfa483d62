"""Partner-settled months: the ledger and the statement (bordereau) add up to the cent."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from policy_service.adapters.tables import ledger_entries
from tests.conftest import ApiClient, Clock, shipping_policy

DEC_1 = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # midnight in Shanghai
JAN_1 = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def D(money: dict) -> Decimal:
    return Decimal(money["amount"])


def _csv(api: ApiClient, path: str, **params: str) -> list[dict[str, str]]:
    r = api.client.get(
        path,
        headers={"Authorization": f"Bearer {api.key}"},
        query_string={**params, "format": "csv"},
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))


def test_a_month_settles_to_the_cent(api: ApiClient, clock: Clock) -> None:
    pols = [
        api.post(
            "/v1/policies", shipping_policy(f"o-{i}", category=cat, delivery_date="2026-12-10")
        )[1]
        for i, cat in enumerate(["apparel", "shoes", "electronics"])
    ]
    api.post(f"/v1/policies/{pols[0]['id']}/cancel", {"reason": "order_cancelled"})  # full refund
    status, open_month = api.get("/v1/statements", period="2026-11")
    assert status == 200 and (open_month["status"], open_month["id"]) == ("open", None)

    clock.now = DEC_1.replace(minute=1)
    status, cancelled = api.post(
        f"/v1/policies/{pols[1]['id']}/cancel", {"reason": "order_cancelled"}
    )
    assert status == 200  # a December change: it must not touch November
    status, nov = api.get("/v1/statements", period="2026-11")
    assert status == 200 and nov["status"] == "closed" and nov["id"].startswith("stm_")
    lines = {line["policy"]: line for line in nov["lines"]}
    assert set(lines) == {p["id"] for p in pols}
    for p in pols:
        line = lines[p["id"]]
        assert line["premium"] == p["premium"]["total"]
        refunded = p["id"] == pols[0]["id"]
        assert D(line["refund"]) == (D(p["premium"]["total"]) if refunded else 0)
        # commission is reversed with a full refund; net due is what the partner collected less it
        commission = Decimal(0) if refunded else D(p["premium"]["commission"])
        assert D(line["commission"]) == commission
        assert D(line["net_due"]) == D(line["premium"]) - D(line["refund"]) - commission
    [totals] = nov["totals"]
    for key in ("premium", "tax", "commission", "fees", "refund", "net_due"):
        assert D(totals[key]) == sum(D(line[key]) for line in nov["lines"])
    assert D(totals["premium"]) == sum(D(p["premium"]["total"]) for p in pols)

    rows = _csv(api, "/v1/statements", period="2026-11")
    assert [r["policy"] for r in rows[:-1]] == [line["policy"] for line in nov["lines"]]
    assert rows[-1]["policy"] == "TOTAL" and Decimal(rows[-1]["net_due"]) == D(totals["net_due"])
    assert _csv(api, f"/v1/statements/{nov['id']}") == rows

    # a closed month never changes; the December refund is on December's statement
    clock.now = JAN_1.replace(minute=1)
    assert api.get(f"/v1/statements/{nov['id']}")[1] == nov
    _, dec = api.get("/v1/statements", period="2026-12")
    [line] = dec["lines"]
    assert line["policy"] == pols[1]["id"]
    assert line["refund"] == cancelled["cancellation"]["refund"]
    assert D(line["premium"]) == 0 and D(line["net_due"]) == -D(line["refund"]) - D(
        line["commission"]
    )


def test_a_late_entry_lands_in_the_next_month(api: ApiClient, clock: Clock) -> None:
    clock.now = DEC_1.replace(minute=1)
    _, nov = api.get("/v1/statements", period="2026-11")  # November closes, empty
    assert nov["lines"] == [] and nov["status"] == "closed"
    clock.now = DEC_1.replace(hour=15, minute=59)  # 23:59 on 30 November in Shanghai: a late writer
    _, pol = api.post("/v1/policies", shipping_policy("late-1", delivery_date="2026-12-10"))
    clock.now = JAN_1.replace(minute=1)
    assert api.get("/v1/statements", period="2026-11")[1] == nov
    _, dec = api.get("/v1/statements", period="2026-12")
    [line] = dec["lines"]
    assert (line["policy"], line["late"]) == (pol["id"], True)


def test_closing_a_later_month_closes_the_earlier_ones_first(api: ApiClient, clock: Clock) -> None:
    _, pol = api.post("/v1/policies", shipping_policy("o-1", delivery_date="2026-12-10"))
    clock.now = JAN_1.replace(minute=1)
    _, dec = api.get("/v1/statements", period="2026-12")
    assert dec["lines"] == []
    _, nov = api.get("/v1/statements", period="2026-11")
    assert [line["policy"] for line in nov["lines"]] == [pol["id"]]


def test_statement_errors(api: ApiClient, other_api: ApiClient, clock: Clock) -> None:
    for period in ("2026-13", "26-11", "2026-1", "x"):
        status, err = api.get("/v1/statements", period=period)
        assert (status, err["error"]["param"]) == (400, "period"), period
    status, err = api.get("/v1/statements", period="2027-01")
    assert (status, err["error"]["param"]) == (400, "period")  # not started
    clock.now = DEC_1.replace(minute=1)
    _, nov = api.get("/v1/statements", period="2026-11")
    assert other_api.get(f"/v1/statements/{nov['id']}")[0] == 404
    assert api.get("/v1/statements/stm_nope")[0] == 404


def test_ledger_invariants(api: ApiClient, clock: Clock, engine: sa.Engine) -> None:
    pols = [
        api.post("/v1/policies", shipping_policy(f"o-{i}", delivery_date="2026-11-27"))[1]
        for i in range(4)
    ]
    api.post(f"/v1/policies/{pols[0]['id']}/cancel", {"reason": "other"})  # before delivery: full
    clock.advance(days=3)
    api.post(f"/v1/policies/{pols[1]['id']}/cancel", {"reason": "other"})  # after delivery: none
    with engine.connect() as conn:
        entries = list(conn.execute(sa.select(ledger_entries)))
    by_policy: dict[str, list] = {}
    for e in entries:
        by_policy.setdefault(e.policy_id, []).append(e)
        assert e.amount == e.tax + e.commission + e.fees + e.net
    assert set(by_policy) == {p["id"] for p in pols}  # no entry without a policy, none missing
    for p in pols:
        _, now_p = api.get(f"/v1/policies/{p['id']}")
        refund = D(now_p["cancellation"]["refund"]) if now_p["cancellation"] else Decimal(0)
        charged_minus_refunded = sum(e.amount for e in by_policy[p["id"]])
        assert Decimal(charged_minus_refunded) / 100 == D(p["premium"]["total"]) - refund
    assert [e.kind for e in by_policy[pols[1]["id"]]] == ["premium"]  # a zero refund is no entry
