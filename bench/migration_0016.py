"""What migrations 0016 and 0017 (the partner in every key) cost on a big book, on
PostgreSQL, against rebuilding the same tables' indexes (REINDEX) in the same run.

    .venv/bin/python bench/migration_0016.py [--policies 1000000] [--url postgresql://...]

A fresh database at 0015 gets N policies of 50 partners, each with its premium's ledger
entry, its cover lock and its trigger subject, and a paid claim with its payout for one
in twenty. Then: REINDEX of those tables (the baseline: what rebuilding their keys alone
costs), then the upgrade to 0016, then to 0017 (the ledger's key), each timed. Prints
them, their ratio to the REINDEX, and the seconds per million policies. Never asserts on
timings; it does check that no row was lost.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policy_service.adapters.db import create_db_engine, upgrade  # noqa: E402

DATABASE = "bench_migration_0016"
TABLES = ("policies", "ledger_entries", "cover_locks", "policy_subjects", "claims", "claim_payouts")

#: one statement per table, each row made by the database itself (generate_series)
FILL = [
    "INSERT INTO partners (id, name, created_at, billing_mode)"
    " SELECT 'ptn_' || p, 'partner ' || p, now(), 'partner_settled'"
    " FROM generate_series(0, 49) p",
    "INSERT INTO product_editions (id, product_code, edition, content_hash, effective_from,"
    " files, registered_at) VALUES ('p/1', 'p', '1', 'h', now(), '{}', now())",
    "INSERT INTO policies (id, partner_id, livemode, product_code, edition_id, content_hash,"
    " external_ref, status, risk, currency, premium_total, premium_net, premium_tax,"
    " premium_commission, premium_fees, coverage_start, coverage_end, created_at, updated_at)"
    " SELECT 'pol_' || lpad(i::text, 12, '0'), 'ptn_' || (i % 50), false, 'p', 'p/1', 'h',"
    " 'order-' || i, 'active', jsonb_build_object('order_id', i::text), 'CNY', 300, 210, 30,"
    " 45, 15, now(), now() + interval '7 days', now(), now()"
    " FROM generate_series(1, :n) i",
    "INSERT INTO ledger_entries (partner_id, livemode, policy_id, kind, collected_by,"
    " currency, amount, tax, commission, fees, net, occurred_at, period)"
    " SELECT partner_id, false, id, 'premium', 'partner', 'CNY', 300, 30, 45, 15, 210,"
    " now(), '2026-12' FROM policies",
    "INSERT INTO cover_locks (livemode, product_code, cover_key, policy_id, created_at)"
    " SELECT false, 'p', md5(id), id, now() FROM policies",
    "INSERT INTO policy_subjects (subject_key, policy_id) SELECT md5('s' || id), id FROM policies",
    "INSERT INTO claims (id, partner_id, livemode, policy_id, product_code, edition_id,"
    " content_hash, loss_key, origin, type, status, currency, amount_approved, amount_paid,"
    " evidence, corrections, signals, created_at, updated_at)"
    " SELECT 'clm_' || substr(id, 5), partner_id, false, id, 'p', 'p/1', 'h', 'shipment',"
    " 'trigger', 'refund', 'paid', 'CNY', 1000, 1000, '{}', '[]', '[]', now(), now()"
    " FROM policies WHERE right(id, 2)::int % 20 = 0",
    "INSERT INTO claim_payouts (id, claim_id, sequence, paid_after, partner_id, livemode,"
    " policy_id, amount, currency, method, status, created_at, updated_at)"
    " SELECT 'cpo_' || substr(id, 5), id, 1, 1000, partner_id, false, policy_id, 1000, 'CNY',"
    " 'statement', 'succeeded', now(), now() FROM claims",
]


def counts(eng: sa.Engine) -> dict[str, int]:
    with eng.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    admin = sa.create_engine(
        args.url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    eng = create_db_engine(admin.url.set(database=DATABASE).render_as_string(False))
    try:
        upgrade(eng, "0015")
        started = time.perf_counter()
        with eng.begin() as conn:
            for statement in FILL:
                conn.execute(sa.text(statement), {"n": args.policies})
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        before = counts(eng)
        print(f"{before} written in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in TABLES:
                conn.exec_driver_sql(f"REINDEX TABLE {table}")
        baseline = time.perf_counter() - started

        print(f"REINDEX of the {len(TABLES)} tables {baseline:7.1f} s")
        for revision in ("0016", "0017"):
            started = time.perf_counter()
            upgrade(eng, revision)
            migration = time.perf_counter() - started
            assert counts(eng) == before, "rows changed"
            per_million = migration / args.policies * 1_000_000
            print(
                f"upgrade to {revision} {migration:7.1f} s   ratio {migration / baseline:.2f}x   "
                f"{per_million:.0f} s per million policies"
            )
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        admin.dispose()


if __name__ == "__main__":
    main()
