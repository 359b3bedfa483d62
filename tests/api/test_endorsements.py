"""Endorsements on the API: a policy changed after issue as its product allows. The product
is read from products/ (tests/endorsement_helpers.py): one whose endorsements may change
what its claim rules match on (a rebooked flight), with a case of its tests.yaml whose
report pays. The change moves every such field: the old subject's report then pays
nothing, the new one's pays, and the premium difference is on the month's statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import ledger_entries
from tests.claims_helpers import Bearer, provider_key
from tests.conftest import ApiClient, Clock
from tests.endorsement_helpers import CASE, EDITION, MOVED, PRODUCT, changes, issue


@pytest.fixture
def feed(app: Flask, engine: sa.Engine) -> Bearer:
    return Bearer(app.test_client(), provider_key(engine))


def _report(values: dict[str, Any], shift: timedelta) -> dict[str, Any]:
    """The case's report, about `values` (the moved fields), its times moved by `shift`."""
    fact = CASE.trigger
    assert fact is not None
    moved = {
        k: (values[k] if k in values else v + shift if isinstance(v, datetime) else v)
        for k, v in fact.values.items()
    }
    return {
        "type": fact.type.name,
        "data": fact.type.fields.to_json(moved),
        "observed_at": (fact.observed_at + shift).isoformat(),
    }


def test_an_endorsed_policy_is_paid_on_its_new_subject_only(
    api: ApiClient, feed: Bearer, engine: sa.Engine, clock: Clock
) -> None:
    policy = issue(api, clock)
    risk_after, new, shift = changes()
    moved = {k: risk_after[k] for k in MOVED}
    status, endorsed = api.post(f"/v1/policies/{policy['id']}/endorsements", {"risk": moved})
    assert status == 201, endorsed
    assert endorsed["object"] == "endorsement" and endorsed["version"] == 2
    after = endorsed["policy"]
    assert after["version"] == 2 and {k: after["risk"][k] for k in MOVED} == moved
    assert set(endorsed["changes"]) == {f"risk.{k}" for k in MOVED}
    diff = Decimal(after["premium"]["total"]["amount"]) - Decimal(
        policy["premium"]["total"]["amount"]
    )
    assert Decimal(endorsed["premium_difference"]["amount"]) == diff
    assert api.get(f"/v1/policies/{policy['id']}")[1] == after

    # The old subject's report no longer reaches the policy; the new one's pays.
    fact = CASE.trigger
    assert fact is not None
    clock.now = (fact.observed_at + shift).astimezone(UTC) + timedelta(minutes=1)
    old = {k: fact.values[k] for k in MOVED if k in fact.values}
    status, first = feed.post("/v1/trigger-events", _report(old, shift))
    assert status == 201, first
    assert api.get("/v1/claims", policy=policy["id"])[1]["data"] == []
    status, second = feed.post("/v1/trigger-events", _report({**old, **new}, shift))
    assert status == 201, second
    [claim] = api.get("/v1/claims", policy=policy["id"])[1]["data"]
    assert claim["status"] == "paid", claim

    # The premium difference is booked once, beside the premium, on the month's statement.
    with engine.connect() as conn:
        kinds = sorted(
            r.kind
            for r in conn.execute(
                sa.select(ledger_entries.c.kind).where(ledger_entries.c.policy_id == policy["id"])
            )
        )
    assert kinds == sorted(["premium", "payout"] + (["endorsement"] if diff else []))
    period = f"{clock.now:%Y-%m}"
    status, month = api.get("/v1/statements", period=period)
    assert status == 200, month
    [line] = [x for x in month["lines"] if x["policy"] == policy["id"]]
    issued_at = Decimal(policy["premium"]["total"]["amount"])
    assert Decimal(line["premium"]["amount"]) == issued_at + max(diff, Decimal(0))
    assert Decimal(line["refund"]["amount"]) == max(-diff, Decimal(0))


def test_the_policy_as_issued_is_kept(api: ApiClient, clock: Clock) -> None:
    policy = issue(api, clock)
    risk_after, _, _ = changes()
    api.post(
        f"/v1/policies/{policy['id']}/endorsements", {"risk": {MOVED[0]: risk_after[MOVED[0]]}}
    )
    _, events = api.get("/v1/events", type="policy.issued")
    assert events["data"][0]["data"]["object"] == policy  # as issued, version 1
    _, listed = api.get(f"/v1/policies/{policy['id']}/endorsements")
    [only] = listed["data"]
    assert only["policy"] == policy["id"] and only["premium_before"] == policy["premium"]
    _, endorsed = api.get("/v1/events", type="policy.endorsed")
    assert endorsed["data"][0]["data"]["object"]["id"] == only["id"]


def test_a_change_is_refused_after_the_products_deadline_with_its_code(
    api: ApiClient, clock: Clock
) -> None:
    assert PRODUCT.endorsements is not None
    codes = {r.code for r in PRODUCT.endorsements.refuse}
    policy = issue(api, clock)
    risk_after, _, _ = changes()
    change = {"risk": {MOVED[0]: risk_after[MOVED[0]]}}
    start = datetime.fromisoformat(policy["created_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(policy["coverage"]["ends_at"].replace("Z", "+00:00"))
    status, refused = 201, {}
    for step in range(1, 21):  # from issue to the end of the cover, until refused
        clock.now = start + (end - start) * step / 20
        status, refused = api.post(f"/v1/policies/{policy['id']}/endorsements", change)
        if status != 201:
            break
        change = {"risk": {MOVED[0]: policy["risk"][MOVED[0]]}}  # and back again
        policy = refused["policy"]
    assert status == 422, refused
    assert refused["error"]["code"] in codes, refused  # the product's deadline, by its code
    assert api.get(f"/v1/policies/{policy['id']}")[1]["version"] == policy["version"]


def test_bad_changes_name_the_field_and_change_nothing(api: ApiClient, clock: Clock) -> None:
    policy = issue(api, clock)
    assert PRODUCT.endorsements is not None
    # an input the product keeps fixed, or else a name that is no input at all
    fixed = next(
        (s.name for s in EDITION.inputs.specs if s.name not in PRODUCT.endorsements.risk),
        "not_an_input",
    )
    cases = [
        ({"risk": {fixed: policy["risk"].get(fixed, "x")}}, 400, f"risk.{fixed}"),
        ({"risk": {MOVED[0]: 12345}}, 400, f"risk.{MOVED[0]}"),
        ({"risk": {k: policy["risk"][k] for k in MOVED}}, 400, "risk"),  # changes nothing
        ({"colour": "red"}, 400, "colour"),
        ({"policyholder": {"id_number": "110101199003074477"}}, 400, "policyholder.id_number"),
    ]
    for body, want, param in cases:
        status, answer = api.post(f"/v1/policies/{policy['id']}/endorsements", body)
        assert (status, answer["error"].get("param")) == (want, param), (body, answer)
    assert api.get(f"/v1/policies/{policy['id']}")[1] == policy
    change = {"risk": {MOVED[0]: policy["risk"][MOVED[0]]}}
    assert api.post("/v1/policies/pol_nope/endorsements", change)[0] == 404


def test_an_endorsement_is_idempotent_and_refused_once_a_claim_exists(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    policy = issue(api, clock)
    risk_after, new, shift = changes()
    body = {"risk": {k: risk_after[k] for k in MOVED}}
    headers = {"Idempotency-Key": "move-1"}
    first = api.post(f"/v1/policies/{policy['id']}/endorsements", body, headers=headers)
    again = api.post(f"/v1/policies/{policy['id']}/endorsements", body, headers=headers)
    assert first[0] == again[0] == 201 and first[1] == again[1]
    assert api.get(f"/v1/policies/{policy['id']}")[1]["version"] == 2

    fact = CASE.trigger
    assert fact is not None
    clock.now = (fact.observed_at + shift).astimezone(UTC) + timedelta(minutes=1)
    old = {k: fact.values[k] for k in MOVED if k in fact.values}
    assert feed.post("/v1/trigger-events", _report({**old, **new}, shift))[0] == 201
    [claim] = api.get("/v1/claims", policy=policy["id"])[1]["data"]
    back = {"risk": {k: policy["risk"][k] for k in MOVED}}
    status, refused = api.post(f"/v1/policies/{policy['id']}/endorsements", back)
    assert status in (409, 422), refused
    if status == 409:  # still before the deadline: the claim is what refuses it
        assert refused["error"]["code"] == "claim_exists"
        assert refused["error"]["details"] == {"claim": claim["id"]}
    assert api.get(f"/v1/policies/{policy['id']}")[1]["version"] == 2


def test_a_policy_never_moves_onto_a_subject_already_reported(
    api: ApiClient, feed: Bearer, clock: Clock
) -> None:
    """A report on the new flight (even one announcing a loss still to come) refuses the
    move: a passenger cannot rebook onto a flight known to be delayed or cancelled."""
    policy = issue(api, clock)
    risk_after, new, shift = changes()
    fact = CASE.trigger
    assert fact is not None
    report = _report({**{k: fact.values[k] for k in MOVED if k in fact.values}, **new}, shift)
    report["observed_at"] = clock.now.isoformat()  # known now, before the flight
    assert feed.post("/v1/trigger-events", report)[0] == 201
    status, refused = api.post(
        f"/v1/policies/{policy['id']}/endorsements", {"risk": {k: risk_after[k] for k in MOVED}}
    )
    assert (status, refused["error"]["code"]) == (422, "subject_already_reported"), refused
    assert api.get(f"/v1/policies/{policy['id']}")[1]["version"] == 1
