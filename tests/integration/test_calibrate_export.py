"""`products calibrate` on an exported dataset: the sold policies are the risks and the
facts of the report that decided a policy's claim are what happened to it. It writes the
draft a CSV of the same risks and facts writes, in one process and on a Dask
LocalCluster. The product and its paying report are read from products/."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from policy_service.adapters import parquet_book
from policy_service.adapters.tables import claims, policies
from policy_service.cli import main
from policy_service.services.book_export import export_table
from tests.claims_helpers import Bearer, provider_key
from tests.conftest import ApiClient, Clock
from tests.edition_files import PRODUCTS
from tests.endorsement_helpers import CASE, EDITION, PRODUCT
from tests.integration.test_book_export import MASK, issue_book, report_fact
from tests.integration.test_calibrate_on_dask import draft_files, same


def calibrate(products: Path, data: Path, out: str, day: int, *more: str) -> dict[str, Any]:
    answer = CliRunner().invoke(
        main,
        [
            "products", "calibrate", PRODUCT.code, "--data", str(data), "--edition", EDITION.id,
            "--target-loss-ratio", "0.6", "--out", out, "--json", "--path", str(products),
            "--effective-from", f"2031-01-{day:02d}T00:00:00+08:00", *more,
        ],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    return dict(json.loads(answer.stdout))


def book_csv(engine: sa.Engine, path: Path) -> Path:
    """The same book written by hand from the database: each sold policy's risk as stored
    and when it was priced, with the report's facts where a claim was decided on it."""
    fact = CASE.trigger
    assert fact is not None
    facts = fact.type.fields.to_json(fact.values)
    with engine.connect() as conn:
        sold = conn.execute(
            sa.select(policies.c.id, policies.c.risk, policies.c.priced_at).order_by(policies.c.id)
        ).all()
        decided = dict(
            conn.execute(
                sa.select(claims.c.policy_id, claims.c.observed_at).where(
                    claims.c.trigger_event_id.is_not(None)
                )
            ).all()
        )
    inputs = [s.name for s in EDITION.inputs.specs]
    fields = [s.name for s in fact.type.fields.specs if s.name not in inputs]

    def text(value: Any) -> str:
        if value is None:
            return ""
        return json.dumps(value) if isinstance(value, dict) else str(value)

    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*inputs, *fields, "priced_at", "observed_at"])
        for (
            policy_id,
            risk,
            priced_at,
        ) in sold:
            seen = decided.get(policy_id)
            happened = [text(facts.get(f)) if seen else "" for f in fields]
            writer.writerow(
                [
                    *(text(risk.get(name)) for name in inputs),
                    *happened,
                    priced_at.astimezone(UTC).isoformat(),
                    seen.astimezone(UTC).isoformat() if seen else "",
                ]
            )
    return path


@pytest.mark.slow
def test_an_exported_book_calibrates_as_its_csv_does(
    app: Flask, api: ApiClient, engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    issued = issue_book(api, clock)
    status, _ = api.post(f"/v1/policies/{issued[0]['id']}/cancel", {"reason": "other"})
    assert status == 200  # cancelled before the report: nothing happened to it here
    report_fact(Bearer(app.test_client(), provider_key(engine)), clock)
    uow = app.extensions["policy_service"].uow
    out = tmp_path / "book"
    later = clock.now + timedelta(hours=1)
    for table in ("policies", "claims"):
        assert export_table(uow, table, out, None, None, later, masking=MASK).rows
    products = tmp_path / "products"
    shutil.copytree(PRODUCTS, products)

    on_csv = calibrate(products, book_csv(engine, tmp_path / "book.csv"), "csv", 1)
    assert on_csv["train_rows"] == len(issued)
    assert 0 < on_csv["frequencies"]["any"] < 1  # the cancelled one had no claim
    exported = calibrate(products, out, "exported", 2, "--mode", "test")
    on_dask = calibrate(products, out, "on-dask", 3, "--mode", "test", "--dask", "local")
    assert same(exported) == same(on_csv)
    assert same(on_dask) == same(on_csv)
    expected = draft_files(products, "csv", PRODUCT.code)
    assert draft_files(products, "exported", PRODUCT.code) == expected
    assert draft_files(products, "on-dask", PRODUCT.code) == expected

    # claims exported before they took their report's facts along: said, not guessed
    state = parquet_book.read_state(out, "claims")
    parquet_book.write_state(out, "claims", {k: v for k, v in state.items() if k != "masking"})
    with pytest.raises(LookupError, match="before a claim took its report's facts along"):
        export_table(uow, "claims", out, None, None, later, masking=MASK)
    answer = CliRunner().invoke(
        main,
        [
            "products", "calibrate", PRODUCT.code, "--data", str(out), "--mode", "test",
            "--target-loss-ratio", "0.6", "--out", "old", "--path", str(products),
        ],
    )  # fmt: skip
    assert answer.exit_code == 1
    assert "exported before a claim took its report's facts along" in answer.output
    parquet_book.write_state(out, "claims", state)

    # live policies: there are none in this book
    answer = CliRunner().invoke(
        main,
        [
            "products", "calibrate", PRODUCT.code, "--data", str(out), "--edition", EDITION.id,
            "--target-loss-ratio", "0.6", "--out", "live", "--path", str(products),
            "--effective-from", "2031-02-01T00:00:00+08:00",
        ],
    )  # fmt: skip
    assert answer.exit_code == 1
    assert "prices none of its 0 rows" in answer.output
