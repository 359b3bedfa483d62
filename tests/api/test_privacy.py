"""Privacy requests: a person gets a copy of what is held about them, and has it erased;
policies, claims, the ledger and statements keep their money and ids; a dump of the whole
database afterwards holds none of the person's data. The product and a paying report are
read from products/ (tests/endorsement_helpers.py)."""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.tables import ledger_entries, metadata, policies, privacy_requests
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.config import Config
from policy_service.services import privacy
from tests.claims_helpers import Bearer, provider_key, resident_id, staff_token
from tests.conftest import ApiClient, Clock
from tests.endorsement_helpers import CASE, EDITION, PRODUCT, changes

PERSON = resident_id(42)
NAME, NEW_NAME, PHONE = "欧阳隐私", "欧阳新名", "13912345678"


def _issue(api: ApiClient, risk: dict[str, Any], ref: str) -> dict[str, Any]:
    body = {
        "product": PRODUCT.code,
        "external_ref": ref,
        "risk": risk,
        "policyholder": {
            "name": NAME,
            "id_type": "cn_resident_id",
            "id_number": PERSON,
            "phone": PHONE,
        },
    }
    status, policy = api.post("/v1/policies", body)
    assert status == 201, policy
    return policy


def _dump(engine: sa.Engine) -> str:
    """Every row of every table, as text."""
    with engine.connect() as conn:
        return repr(
            [
                [tuple(row) for row in conn.execute(sa.select(table))]
                for table in metadata.sorted_tables
            ]
        )


def test_export_then_erasure_leaves_nothing_of_the_person(
    app: Flask,
    engine: sa.Engine,
    api: ApiClient,
    other_api: ApiClient,
    clock: Clock,
    config: Config,
) -> None:
    if PRODUCT.policyholder == "none":
        return
    clock.now = CASE.quoted_at.astimezone(UTC)
    paid = _issue(api, EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)), "trip-1")
    later, _, _ = changes()
    in_force = _issue(api, later, "trip-2")
    assert api.post(
        f"/v1/policies/{paid['id']}/endorsements", {"policyholder": {"name": NEW_NAME}}
    )[0] in (201, 422)
    fact = CASE.trigger
    assert fact is not None
    clock.now = fact.observed_at.astimezone(UTC) + timedelta(minutes=1)
    report = {
        "type": fact.type.name,
        "data": fact.type.fields.to_json(fact.values),
        "observed_at": fact.observed_at.isoformat(),
    }
    assert (
        Bearer(app.test_client(), provider_key(engine)).post("/v1/trigger-events", report)[0] == 201
    )
    [claim] = api.get("/v1/claims", policy=paid["id"])[1]["data"]
    assert claim["status"] == "paid"

    # a claim the partner filed by hand, naming the person, with a file named after them,
    # rejected by a reviewer (so nothing is open at the erasure)
    body = {
        "policy": in_force["id"],
        "type": EDITION.benefits[0].code,
        "description": f"{NAME} ({PHONE}) says the flight was late",
    }
    status, filed = api.post("/v1/claims", body)
    assert status == 201, filed
    upload = api.client.post(
        f"/v1/claims/{filed['id']}/attachments",
        data={
            "file": (io.BytesIO(f"{NAME} ID copy".encode()), f"{NAME}_id.pdf", "application/pdf")
        },
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert upload.status_code == 201, upload.get_json()
    stored = config.attachments_dir / upload.get_json()["sha256"][:2] / upload.get_json()["sha256"]
    assert stored.exists()
    reviewer = Bearer(app.test_client(), staff_token(engine, "li.na@ops.example", "approver"))
    rejected = reviewer.post(
        f"/v1/ops/claims/{filed['id']}/reject",
        {"reject_code": "insufficient_evidence", "reason": "no proof of the delay"},
    )
    assert rejected[0] == 200, rejected

    # the copy: this partner's policies, claims and changes; another partner's: nothing
    status, copy = api.post("/v1/privacy/exports", {"id_number": PERSON})
    assert status == 200, copy
    assert {p["id"] for p in copy["policies"]} == {paid["id"], in_force["id"]}
    assert {c["id"] for c in copy["claims"]} == {claim["id"], filed["id"]}
    assert all(p["policyholder"]["id_last4"] == PERSON[-4:] for p in copy["policies"])
    assert PERSON not in repr(copy)  # the number itself was never kept
    assert other_api.post("/v1/privacy/exports", {"id_number": PERSON})[1]["policies"] == []
    assert api.post("/v1/privacy/exports", {"id_number": "x"})[0] == 200  # nobody: empty
    status, error = api.post("/v1/privacy/erasures", {"id_type": "passport"})
    assert (status, error["error"]["param"]) == (400, "id_number")

    with engine.connect() as conn:
        money_before = sorted(
            (r.policy_id, r.kind, r.amount) for r in conn.execute(sa.select(ledger_entries))
        )
    # the first cover has ended, the second not yet: that one is kept, and said why
    ends = {p["id"]: _at(p["coverage"]["ends_at"]) for p in (paid, in_force)}
    assert ends[paid["id"]] < ends[in_force["id"]]
    clock.now = ends[paid["id"]] + timedelta(minutes=1)
    status, erased = api.post("/v1/privacy/erasures", {"id_number": PERSON})
    assert status == 200, erased
    assert erased["erased"] == [paid["id"]]
    assert erased["kept"] == {in_force["id"]: "in force: the contract still needs the person"}
    clock.now = ends[in_force["id"]] + timedelta(minutes=1)
    status, again = api.post("/v1/privacy/erasures", {"id_number": PERSON})
    assert (status, again["erased"], again["kept"]) == (200, [in_force["id"]], {})
    assert api.post("/v1/privacy/erasures", {"id_number": PERSON})[0] == 404

    dump = _dump(engine)
    hashed = hmac.new(b"test-pii-key", f"cn_resident_id:{PERSON}".encode(), hashlib.sha256)
    for secret in (NAME, NEW_NAME, PHONE, PERSON, hashed.hexdigest()):
        at = dump.find(secret)
        assert at < 0, dump[max(0, at - 400) : at + 100]
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(policies.c.policyholder_id_last4)).scalars()) == {"****"}
        money_after = sorted(
            (r.policy_id, r.kind, r.amount) for r in conn.execute(sa.select(ledger_entries))
        )
        asked = [
            r.kind
            for r in conn.execute(
                sa.select(privacy_requests).order_by(
                    privacy_requests.c.created_at, privacy_requests.c.id
                )
            )
        ]
    assert money_after == money_before  # the money and the ids stay
    assert not stored.exists()  # the attachment's file is gone
    assert api.get(f"/v1/policies/{paid['id']}")[1]["premium"] == paid["premium"]
    assert asked.count("export") == 3 and asked.count("erasure") >= 2


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def datetime_after_all_covers(engine: sa.Engine) -> Any:
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(policies.c.coverage_end))).scalar_one()
    return last.astimezone(UTC) + timedelta(days=1)


def test_the_retention_sweep_erases_people_whose_cover_ended_long_ago(
    app: Flask, engine: sa.Engine, api: ApiClient, clock: Clock
) -> None:
    if PRODUCT.policyholder == "none":
        return
    clock.now = CASE.quoted_at.astimezone(UTC)
    policy = _issue(api, EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)), "trip-1")
    # another whose claim is still open: kept, and never in the sweep's way
    later, _, _ = changes()
    waiting = _issue(api, later, "trip-2")
    body = {"policy": waiting["id"], "type": EDITION.benefits[0].code, "description": "late"}
    assert api.post("/v1/claims", body)[0] == 201
    ended = max(_at(p["coverage"]["ends_at"]) for p in (policy, waiting))
    files = app.extensions["policy_service"].claims().files
    uow = SqlUnitOfWork(engine)
    assert privacy.apply_retention(uow, files, ended + timedelta(days=29), days=30) == 0
    assert privacy.apply_retention(uow, files, ended + timedelta(days=31), days=30) == 1
    assert privacy.apply_retention(uow, files, ended + timedelta(days=32), days=30) == 0
    _, after = api.get(f"/v1/policies/{policy['id']}")
    assert after["policyholder"]["name"] == "[erased]" and after["policyholder"]["phone"] is None
    assert api.get(f"/v1/policies/{waiting['id']}")[1]["policyholder"]["name"] == NAME
    with engine.connect() as conn:
        [kind] = conn.execute(sa.select(privacy_requests.c.kind)).scalars()
    assert kind == "retention"


def test_the_operator_exports_and_erases_from_the_command_line(
    api: ApiClient,
    other_api: ApiClient,
    clock: Clock,
    db_url: str,
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    """The CLI acts across partners: one person, a policy with each of two partners."""
    import json

    from click.testing import CliRunner

    from policy_service.cli import main

    if PRODUCT.policyholder == "none":
        return
    clock.now = CASE.quoted_at.astimezone(UTC)
    first = _issue(api, EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)), "trip-1")
    later, _, _ = changes()
    second = _issue(other_api, later, "trip-9")
    for name, value in (
        ("DATABASE_URL", db_url),
        ("DATA_DIR", str(tmp_path)),
        ("PII_HASH_KEY", "test-pii-key"),
    ):
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    exported = runner.invoke(main, ["privacy", "export", "--id-number", PERSON])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    assert {p["id"] for p in document["policies"]} == {first["id"], second["id"]}
    # the command runs on the real clock: covers not ended by then are kept, and said so
    erased = runner.invoke(main, ["privacy", "erase", "--id-number", PERSON])
    assert erased.exit_code == 0, erased.output
    kept = [p["id"] for p in (first, second) if f"kept {p['id']}: in force" in erased.output]
    assert f"erased from {2 - len(kept)} policies" in erased.output
    bad = runner.invoke(main, ["privacy", "erase", "--id-number", PERSON, "--id-type", "visa"])
    assert bad.exit_code != 0 and "id_type" in bad.output
