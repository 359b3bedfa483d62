"""A Parquet calibration book reads as the same rows in a CSV whatever Parquet types its
columns have (decimals of any scale, float32, integers with nulls, dates and times with
their offset), refuses what it cannot use naming the file and the file's row, and an
edition without rating factors still gets its base. The product is written here (the one
of tests/unit/test_calibrate_any.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.test_calibrate_on_dask import same, write_parquet
from tests.unit.test_calibrate_any import CODE, SOURCE, book_rows, invoke, write_csv, write_product


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_product(tmp_path_factory.mktemp("parquet-types") / "products")


def calibrated(products: Path, data: Path, out: str, day: int) -> dict[str, Any]:
    answer = invoke(
        products, data, "--out", out, "--json",
        "--effective-from", f"2030-03-{day:02d}T00:00:00+08:00",
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    return dict(json.loads(answer.stdout))


def test_other_parquet_types_read_as_the_csv_does(products: Path, tmp_path: Path) -> None:
    rows = book_rows(600, seed=21)
    # weights as float32 and as integers with nulls' type, costs as a wide decimal
    table = pq.read_table(write_parquet(tmp_path / "plain.parquet", rows, group=600))
    cost = pa.array(
        [None if r["shipping_cost"] == "" else Decimal(r["shipping_cost"]) for r in rows],
        pa.decimal128(38, 18),
    )
    typed = table.set_column(
        table.schema.get_field_index("shipping_cost"), "shipping_cost", cost
    ).set_column(
        table.schema.get_field_index("weight"),
        "weight",
        pa.array([float(r["weight"]) for r in rows], pa.float32()),
    )
    pq.write_table(typed, tmp_path / "typed.parquet", row_group_size=250)
    on_csv = calibrated(products, write_csv(tmp_path / "book.csv", rows), "types-csv", 1)
    on_typed = calibrated(products, tmp_path / "typed.parquet", "types-parquet", 2)
    assert same(on_typed) == same(on_csv)


def test_a_refusal_names_the_file_and_its_own_row(products: Path, tmp_path: Path) -> None:
    rows = book_rows(90, seed=22)
    rows[50 + 6]["segment"] = "zz"  # the second file's 7th row
    folder = tmp_path / "book"
    write_parquet(folder / "part-0.parquet", rows[:50], group=20)
    write_parquet(folder / "part-1.parquet", rows[50:], group=20)
    pq.write_table(  # an empty file changes nothing
        pq.read_table(folder / "part-0.parquet").slice(0, 0), folder / "part-2.parquet"
    )
    answer = invoke(products, folder, "--out", "refused")
    assert answer.exit_code == 1
    assert f"{folder / 'part-1.parquet'}: row 7: column segment: must be one of" in answer.output

    table = pq.read_table(folder / "part-0.parquet")
    listed = table.append_column("extra", pa.array([[1, 2]] * len(table), pa.list_(pa.int64())))
    pq.write_table(listed, folder / "part-1.parquet")
    answer = invoke(products, folder, "--out", "refused")
    assert answer.exit_code == 1
    assert "column extra: is neither an input of" in answer.output
    assert not (products / CODE / "editions" / "refused").exists()


def test_an_edition_without_factors_gets_its_base(tmp_path: Path) -> None:
    products = write_product(tmp_path / "products")
    yaml = products / CODE / "editions" / SOURCE / "edition.yaml"
    text = yaml.read_text()
    start, end = text.index("  factors:\n"), text.index("  minimum:")
    yaml.write_text(text[:start] + text[end:])
    book = write_parquet(tmp_path / "book.parquet", book_rows(400, seed=23), group=100)
    report = calibrated(products, book, "flat", 3)
    assert report["factors"] == {}
    assert Decimal(report["base"]) > 0
    assert abs(report["figures"]["train"]["loss_ratio"] - 0.6) < 0.01
