"""`products calibrate` on a Parquet book: read whole in one process, or a row group at a
time on a Dask LocalCluster, it writes the same draft as the same rows in a CSV. Every
figure is a sum over the slices (claim costs in minor units, cells of levels, counts of
premiums), so how the book is sliced changes nothing."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.test_calibrate_any import CODE, book_rows, invoke, write_csv, write_product


def write_parquet(path: Path, rows: list[dict[str, str]], group: int) -> Path:
    """The book's rows as a typed Parquet file: dates, times with their offset, integers
    and money as decimals, empty cells as nulls; `group` rows per row group."""

    def cell(name: str, text: str) -> Any:
        if text == "":
            return None
        if name == "weight":
            return int(text)
        if name == "delivery_date":
            return date.fromisoformat(text)
        if name in ("priced_at", "picked_up_at"):
            return datetime.fromisoformat(text)
        if name == "shipping_cost":
            return Decimal(text)
        return text

    columns = list(rows[0])
    table = pa.table(
        {name: [cell(name, row[name]) for row in rows] for name in columns},
        schema=pa.schema(
            [
                ("platform", pa.string()),
                ("order_id", pa.string()),
                ("segment", pa.string()),
                ("weight", pa.int64()),
                ("delivery_date", pa.date32()),
                ("priced_at", pa.timestamp("us", tz="+08:00")),
                ("shipping_cost", pa.decimal128(9, 2)),
                ("picked_up_at", pa.timestamp("us", tz="+08:00")),
            ]
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=group)
    return path


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_product(tmp_path_factory.mktemp("dask-calibrate") / "products")


def calibrated(products: Path, data: Path, out: str, day: int, *more: str) -> dict[str, Any]:
    answer = invoke(
        products, data, "--out", out, "--json", "--train-until", "2026-06-30",
        "--effective-from", f"2028-01-{day:02d}T00:00:00+08:00", *more,
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.stdout)
    return report


def draft_files(products: Path, edition: str, code: str = CODE) -> dict[str, str]:
    """The draft's files without the lines that name it or its data (its comments, its
    first day)."""
    folder = products / code / "editions" / edition
    return {
        p.name: "\n".join(
            line
            for line in p.read_text().splitlines()
            if not line.lstrip().startswith(("effective_from:", "#"))
            and "calibrated from" not in line
        )
        for p in sorted(folder.iterdir())
    }


def same(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what names the run: its data, its draft's folder, and the example
    risk priced on the draft's first day (each draft starts on another day)."""
    return {
        **report,
        "data": "-",
        "written": "-",
        "example": "-",
        "warnings": [w for w in report["warnings"] if w["code"] != "example_premium_moves"],
    }


@pytest.mark.slow
def test_a_parquet_book_on_dask_writes_the_draft_a_csv_writes(
    products: Path, tmp_path: Path
) -> None:
    rows = book_rows(3000, seed=11)
    csv_book = write_csv(tmp_path / "book.csv", rows)
    parquet_book = write_parquet(tmp_path / "book.parquet", rows, group=400)
    assert pq.ParquetFile(parquet_book).metadata.num_row_groups == 8

    on_csv = calibrated(products, csv_book, "from-csv", 1)
    here = calibrated(products, parquet_book, "from-parquet", 2)
    on_dask = calibrated(products, parquet_book, "on-dask", 3, "--dask", "local")

    assert on_csv["train_rows"] > 0 and on_csv["holdout_rows"] > 0
    assert abs(on_csv["figures"]["train"]["loss_ratio"] - 0.6) < 0.01
    assert same(here) == same(on_csv)
    assert same(on_dask) == same(on_csv)
    expected = draft_files(products, "from-csv")
    assert draft_files(products, "from-parquet") == expected
    assert draft_files(products, "on-dask") == expected


def test_a_folder_of_parquet_files_sampled_is_the_csv_sampled(
    products: Path, tmp_path: Path
) -> None:
    """Every 3rd row of the book, counted across its files in name order."""
    rows = book_rows(900, seed=12)
    folder = tmp_path / "book"
    write_parquet(folder / "part-0.parquet", rows[:500], group=200)
    write_parquet(folder / "part-1.parquet", rows[500:], group=200)
    on_csv = calibrated(
        products, write_csv(tmp_path / "book.csv", rows), "s-csv", 4, "--sample-every", "3"
    )
    on_folder = calibrated(products, folder, "s-folder", 5, "--sample-every", "3")
    assert on_csv["train_rows"] + on_csv["holdout_rows"] <= 300
    assert same(on_folder) == same(on_csv)


def test_a_bad_parquet_cell_names_the_file_row_and_column(products: Path, tmp_path: Path) -> None:
    rows = book_rows(50, seed=13)
    rows[6]["segment"] = "zz"
    book = write_parquet(tmp_path / "bad.parquet", rows, group=20)
    answer = invoke(products, book, "--out", "bad")
    assert answer.exit_code != 0
    assert f"{book}: row 7: column segment: must be one of: a, b, c, d, e" in answer.output
    assert not (products / CODE / "editions" / "bad").exists()


def test_dask_needs_a_parquet_book(products: Path, tmp_path: Path) -> None:
    book = write_csv(tmp_path / "book.csv", book_rows(20, seed=14))
    answer = invoke(products, book, "--out", "no", "--dask", "local")
    assert answer.exit_code == 2
    assert "--dask" in answer.output and "Parquet" in answer.output
