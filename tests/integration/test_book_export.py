"""`export` writes the book as a Parquet dataset: incremental (a second run adds only what
changed), resumable (a run stopped midway finishes on the next), without personal data
beyond the keyed ID hash; experience on it, here and on a Dask LocalCluster, gives the
database's figures. The product and its paying report are read from products/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service.adapters import parquet_book
from policy_service.adapters.tables import policies
from policy_service.services.book_export import Masking, export_table
from policy_service.services.book_jobs import experience_of_book, replay_of_book
from policy_service.services.experience import product_experience
from pricing.loader import load_catalog
from tests.claims_helpers import Bearer, provider_key, resident_id
from tests.conftest import ApiClient, Clock, passenger
from tests.edition_files import PRODUCTS
from tests.endorsement_helpers import CASE, EDITION, PRODUCT

PEOPLE = 6
#: the product here names no identifiers (tests/integration/test_export_identifiers.py)
CATALOG = load_catalog(PRODUCTS)
MASK = Masking.of(CATALOG.products.values(), b"export-test-key", CATALOG.triggers)
TZ = "Asia/Shanghai"


def issue_book(api: ApiClient, clock: Clock) -> list[dict[str, Any]]:
    clock.now = CASE.quoted_at.astimezone(UTC)
    issued = []
    for i in range(PEOPLE):
        body: dict[str, Any] = {
            "product": PRODUCT.code,
            "external_ref": f"export-{i}",
            "risk": EDITION.inputs.to_json(EDITION.inputs.parse(CASE.risk)),
            "policyholder": {
                **passenger(resident_id(500 + i), f"旅客{i}"),
                "phone": f"1390000{i:04d}",
            },
        }
        status, policy = api.post("/v1/policies", body)
        assert status == 201, policy
        issued.append(policy)
    return issued


def report_fact(feed: Bearer, clock: Clock) -> None:
    fact = CASE.trigger
    assert fact is not None
    clock.now = fact.observed_at.astimezone(UTC) + timedelta(minutes=1)
    status, answer = feed.post(
        "/v1/trigger-events",
        {
            "type": fact.type.name,
            "data": fact.type.fields.to_json(fact.values),
            "observed_at": fact.observed_at.isoformat(),
        },
    )
    assert status == 201, answer


def _dataset(root: Path, table: str) -> pd.DataFrame:
    """Every row of a table in a dataset, latest versions, with its partition."""
    frames = []
    for product in sorted((root / table).glob("product=*")):
        for month in sorted(product.glob("month=*")):
            frame = parquet_book.read_partition(month, table)
            frames.append(frame.assign(partition=f"{product.name}/{month.name}"))
    return pd.concat(frames, ignore_index=True).sort_values("id", ignore_index=True)


@pytest.fixture
def book(app: Flask, api: ApiClient, engine: sa.Engine, clock: Clock) -> Iterator[Any]:
    issued = issue_book(api, clock)
    yield app.extensions["policy_service"].uow, issued


def test_a_second_export_adds_only_what_changed(
    book: Any, app: Flask, api: ApiClient, engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    uow, issued = book
    out = tmp_path / "book"
    later = clock.now + timedelta(hours=1)
    for table in parquet_book.TABLES:
        export_table(uow, table, out, None, None, later, masking=MASK)
    first = _dataset(out, "policies")
    assert sorted(first["id"]) == sorted(p["id"] for p in issued)
    assert set(first["partition"]) == {f"product={PRODUCT.code}/month={clock.now:%Y-%m}"}
    # nothing new: nothing added
    assert export_table(uow, "policies", out, None, None, later, masking=MASK).rows == 0

    clock.now = later + timedelta(minutes=1)  # changes come after the export ran
    status, _ = api.post(
        f"/v1/policies/{issued[0]['id']}/cancel", {"reason": "requested_by_customer"}
    )
    assert status == 200
    report_fact(Bearer(app.test_client(), provider_key(engine)), clock)
    again = clock.now + timedelta(hours=1)
    with engine.connect() as conn:
        changed = conn.execute(
            sa.select(sa.func.count()).where(policies.c.updated_at > later - timedelta(minutes=5))
        ).scalar_one()
    assert export_table(uow, "policies", out, None, None, again, masking=MASK).rows == changed
    claims = export_table(uow, "claims", out, None, None, again, masking=MASK)
    assert claims.rows >= PEOPLE - 1  # the report paid everyone still covered
    export_table(uow, "ledger", out, None, None, again, masking=MASK)

    now = _dataset(out, "policies").set_index("id")
    assert now.loc[issued[0]["id"], "status"] == "cancelled"  # its latest version only
    assert len(now) == PEOPLE
    paid = _dataset(out, "claims")
    assert set(paid["status"]) == {"paid"} and paid["amount_paid"].gt(0).all()
    assert set(paid["partition"]) == set(_dataset(out, "policies")["partition"])
    ledger = _dataset(out, "ledger")
    assert ledger["amount"].dtype == "int64" and set(ledger["currency"]) == {EDITION.currency}
    # money as minor units: the ledger's premiums are the policies' own
    premiums = ledger[ledger["kind"] == "premium"].set_index("policy_id")["amount"]
    assert (premiums.sort_index() == now["premium_total"].sort_index()).all()

    # experience on the dataset: the database's figures, here and on a Dask LocalCluster
    from distributed import LocalCluster

    at = clock.now + timedelta(days=1)
    want = product_experience(uow, PRODUCT.code, ["edition"], "all", False, at, TZ)
    here = experience_of_book(out, PRODUCT.code, ["edition"], at, "all", TZ, False, None)
    pd.testing.assert_frame_equal(here, want, check_exact=False, rtol=1e-12)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        on_dask = experience_of_book(
            out, PRODUCT.code, ["edition"], at, "all", TZ, False, cluster.scheduler_address
        )
    pd.testing.assert_frame_equal(on_dask, here, check_exact=True)
    assert int(want["claims"].sum()) == len(paid)


def test_a_stopped_export_finishes_on_the_next_run(
    book: Any, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow, _ = book
    later = clock.now + timedelta(hours=1)
    whole = tmp_path / "whole"
    export_table(uow, "policies", whole, None, None, later, masking=MASK)

    stopped = tmp_path / "stopped"
    saved = parquet_book.write_state
    calls = 0

    def crash_after_one(out: Path, table: str, state: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch's files are written, its state is not
            raise KeyboardInterrupt
        saved(out, table, state)

    monkeypatch.setattr(parquet_book, "write_state", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        export_table(uow, "policies", stopped, None, None, later, masking=MASK, batch_rows=2)
    monkeypatch.setattr(parquet_book, "write_state", saved)
    assert parquet_book.read_state(stopped, "policies")["rows"] == 2
    resumed = export_table(uow, "policies", stopped, None, None, later, masking=MASK, batch_rows=2)
    assert resumed.rows == PEOPLE - 2
    pd.testing.assert_frame_equal(
        _dataset(stopped, "policies"), _dataset(whole, "policies"), check_exact=True
    )
    # a different --since into the same folder is refused
    with pytest.raises(LookupError, match="--since"):
        export_table(uow, "policies", stopped, later, None, later, masking=MASK)


def test_no_personal_data_leaves_but_the_keyed_hash(
    book: Any, clock: Clock, tmp_path: Path
) -> None:
    uow, issued = book
    out = tmp_path / "book"
    for table in parquet_book.TABLES:
        export_table(uow, table, out, None, None, clock.now + timedelta(hours=1), masking=MASK)
    secrets = {f"旅客{i}" for i in range(PEOPLE)} | {f"1390000{i:04d}" for i in range(PEOPLE)}
    secrets |= {resident_id(500 + i) for i in range(PEOPLE)}
    files = list(out.rglob("*.parquet"))
    assert files
    for path in files:
        table = pq.read_table(path)
        assert not {"policyholder_name", "policyholder_phone", "policyholder_id_last4"} & set(
            table.column_names
        )
        for column in table.columns:
            for value in column.to_pylist():
                if isinstance(value, str):
                    assert not any(s in value for s in secrets), (path, value)
    hashes = _dataset(out, "policies")["policyholder_id_hash"]
    assert hashes.notna().all() and hashes.str.len().eq(64).all()
    assert len(issued) == PEOPLE


def test_replay_on_the_dataset_finds_what_replay_on_the_database_finds(
    book: Any, engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    from policy_service.services import replay

    uow, issued = book
    # one stored premium split differently (the total kept): replay must find it
    with engine.begin() as conn:
        conn.execute(
            policies.update()
            .where(policies.c.id == issued[1]["id"])
            .values(
                premium_net=policies.c.premium_net - 1,
                premium_commission=policies.c.premium_commission + 1,
            )
        )
    out = tmp_path / "book"
    export_table(uow, "policies", out, None, None, clock.now + timedelta(hours=1), masking=MASK)
    want = replay.replay(uow, PRODUCT)
    assert [d.policy_id for d in want.differences] == [issued[1]["id"]]
    here = replay_of_book(out, PRODUCT, None, None)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        there = replay_of_book(out, PRODUCT, None, cluster.scheduler_address)
    for got in (here, there):
        assert (got.checked, got.same) == (want.checked, want.same)
        assert got.differences == want.differences


def test_an_erased_person_leaves_the_dataset_once_it_is_compacted(
    book: Any, api: ApiClient, engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    uow, issued = book
    out = tmp_path / "book"
    export_table(uow, "policies", out, None, None, clock.now + timedelta(hours=1), masking=MASK)
    with engine.connect() as conn:
        old_hash = conn.execute(
            sa.select(policies.c.policyholder_id_hash).where(policies.c.id == issued[0]["id"])
        ).scalar_one()
    clock.now = datetime.fromisoformat(issued[0]["coverage"]["ends_at"]) + timedelta(days=1)
    status, erased = api.post("/v1/privacy/erasures", {"id_number": resident_id(500)})
    assert status == 200 and erased["erased"] == [issued[0]["id"]], erased

    def files_holding(value: str) -> list[Path]:
        return [
            path
            for path in out.rglob("*.parquet")
            if value in pq.read_table(path, columns=["policyholder_id_hash"]).column(0).to_pylist()
        ]

    # the erasure is a change: the next export takes it, and readers see it
    assert (
        export_table(
            uow, "policies", out, None, None, clock.now + timedelta(hours=1), masking=MASK
        ).rows
        == 1
    )
    latest = _dataset(out, "policies").set_index("id").loc[issued[0]["id"]]
    assert latest["policyholder_id_hash"] != old_hash
    assert files_holding(old_hash)  # the version exported before is still on disk ...
    assert parquet_book.compact(out, "policies") == 1
    assert files_holding(old_hash) == []  # ... until the folder is compacted
    assert len(_dataset(out, "policies")) == PEOPLE
    assert parquet_book.compact(out, "policies") == 0  # nothing left to compact


def test_a_ledger_entry_booked_before_a_higher_id_is_not_stepped_over(
    book: Any, engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    """Entries get their ids at insert and their time from their request: two requests
    may end in the other order. The export stops at the first entry past its bound, so
    the earlier one is never left behind."""
    from policy_service.adapters.tables import ledger_entries
    from tests.conftest import _append_only_lifted

    uow, _ = book
    with engine.connect() as conn:
        ids = list(conn.execute(sa.select(ledger_entries.c.id).order_by(ledger_entries.c.id)))
    first, second = ids[-2][0], ids[-1][0]
    bound = clock.now + timedelta(hours=1)
    with engine.begin() as conn, _append_only_lifted(conn):
        # the lower id was booked after the bound, the higher one before it
        for entry, when in ((first, bound + timedelta(seconds=1)), (second, bound)):
            conn.execute(
                ledger_entries.update().where(ledger_entries.c.id == entry).values(occurred_at=when)
            )
    out = tmp_path / "book"
    export_table(uow, "ledger", out, None, None, bound + timedelta(minutes=5), masking=MASK)
    taken = set(_dataset(out, "ledger")["id"])
    assert first not in taken and second not in taken  # stopped at the first past it
    export_table(uow, "ledger", out, None, None, bound + timedelta(minutes=10), masking=MASK)
    assert {first, second} <= set(_dataset(out, "ledger")["id"])
