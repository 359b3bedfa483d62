"""`products impact` on a book file: CSV or Parquet, money as NAME.amount + NAME.currency
or JSON text; rows that cannot be priced are counted, not lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from policy_service.cli import main

from ..conftest import shipping_risk

PRODUCTS = Path(__file__).resolve().parents[2] / "products"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "products"
    shutil.copytree(PRODUCTS, root)
    editions = root / "return_shipping" / "editions"
    shutil.copytree(editions / "2026-11-25", editions / "2026-12")
    yaml_file = editions / "2026-12" / "edition.yaml"
    text = yaml_file.read_text()
    start = next(line for line in text.splitlines() if line.startswith("effective_from:"))
    yaml_file.write_text(text.replace(start, "effective_from: 2026-12-01T00:00:00+08:00"))
    table = editions / "2026-12" / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,2.50"))
    return root


def _book() -> pd.DataFrame:
    rows = []
    for category, amount in (("apparel", "299.00"), ("books", "59.00"), ("apparel", "oops")):
        risk = shipping_risk(category=category)
        risk["order_value"] = {"amount": amount, "currency": "CNY"}
        rows.append(risk)
    frame = pd.DataFrame(rows)
    frame["order_value.amount"] = [r["order_value"]["amount"] for r in rows]
    frame["order_value.currency"] = "CNY"
    frame["priced_at"] = "2026-11-26T10:00:00+08:00"
    return frame.drop(columns=["order_value"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_book_file_is_priced_on_both_editions(root: Path, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"book{suffix}"
    book = _book()
    if suffix == ".csv":
        book.to_csv(path, index=False)
    else:
        book.to_parquet(path)
    answer = CliRunner().invoke(
        main,
        [
            "products", "impact", "return_shipping", "--from", "2026-11-25", "--to", "2026-12",
            "--book", str(path), "--json", "--html", str(tmp_path / "i.html"), "--path", str(root),
        ],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.output[answer.output.index("{") :])
    assert report["rows"] == 3 and report["priced_on_both"] == 2 and report["changed"] == 1
    assert report["unpriceable"]["rows"] == 1
    assert "risk.order_value: must be a decimal" in next(iter(report["unpriceable"]["reasons"]))
    movers = {(m["segment"], m["level"]): m for m in report["biggest_movers"]}
    assert movers[("category", "apparel")]["policies"] == 1
    assert ("category", "books") not in movers  # its premium did not move


def test_a_priced_at_without_offset_is_refused(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    book = _book()
    book["priced_at"] = "2026-11-26T10:00:00"
    book.to_csv(path, index=False)
    answer = CliRunner().invoke(
        main,
        [
            "products",
            "impact",
            "return_shipping",
            "--from",
            "2026-11-25",
            "--to",
            "2026-12",
            "--book",
            str(path),
            "--path",
            str(root),
        ],
    )
    assert (
        answer.exit_code == 1
        and "row 2: priced_at '2026-11-26T10:00:00' needs a UTC offset" in answer.output
    )
