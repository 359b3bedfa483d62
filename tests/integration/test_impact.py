"""`products impact` on a book of 100,000 stored policies: a table change (MU's carrier
factor 1.00 -> 1.10) gives the summary an independent count expects, and an HTML report;
the same book exported to Parquet and priced on a Dask LocalCluster gives the very same
report."""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from policy_service.adapters.tables import policies
from policy_service.cli import main
from policy_service.domain.ids import new_id
from pricing import engine as rating
from pricing.loader import load_product

from ..conftest import ApiClient, flight_policy

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
BOOK = 100_000
CARRIERS = ("MU", "CA", "CZ", "HU")
ORIGINS = ("SHA", "CAN", "CTU")  # the template flies to PEK
DEPARTURES = [
    f"2027-{m:02d}-15T{h:02d}:30:00+08:00" for m in (1, 4, 7, 10) for h in (6, 9, 13, 17, 21)
]


@pytest.fixture
def products(tmp_path: Path) -> Path:
    root = tmp_path / "products"
    shutil.copytree(PRODUCTS, root)
    editions = root / "flight_delay" / "editions"
    shutil.copytree(editions / "2026-11-25", editions / "2026-12")
    yaml_file = editions / "2026-12" / "edition.yaml"
    text = yaml_file.read_text()
    yaml_file.write_text(
        text.replace(
            "effective_from: 2026-11-25T08:00:00+08:00", "effective_from: 2026-12-01T00:00:00+08:00"
        )
    )
    carrier = editions / "2026-12" / "carrier.csv"
    carrier.write_text(carrier.read_text().replace("MU,1.00", "MU,1.10"))
    return root


def test_impact_of_a_table_change_on_100000_stored_policies(
    app: Flask,
    api: ApiClient,
    engine: sa.Engine,
    products: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, first = api.post("/v1/policies", flight_policy("template"))
    assert status == 201, first
    with engine.connect() as conn:
        template = dict(conn.execute(sa.select(policies)).one()._mapping)
    combos = list(itertools.product(CARRIERS, ORIGINS, DEPARTURES))
    rows, count = [], Counter[tuple[str, str, str]]()
    for i in range(BOOK - 1):
        carrier, origin, departure = combos[(i * 7) % len(combos)]
        count[(carrier, origin, departure)] += 1
        risk = {
            **template["risk"],
            "carrier": carrier,
            "flight_number": f"{carrier}5101",
            "origin": origin,
            "scheduled_departure": departure,
        }
        rows.append(
            {
                **template,
                "id": new_id("pol"),
                "external_ref": f"bulk-{i}",
                "risk": risk,
                "quote_id": None,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(policies.insert(), rows[start : start + 5000])
    risk0 = template["risk"]
    count[(risk0["carrier"], risk0["origin"], risk0["scheduled_departure"])] += 1

    # What an independent count expects: the scalar engine, once per distinct risk.
    product = load_product(products / "flight_delay", products)
    old, new = product.edition("2026-11-25"), product.edition("2026-12")
    assert old is not None and new is not None
    sold_at = template["created_at"]
    want_a = want_b = Decimal(0)
    changed = 0
    for (carrier, origin, departure), n in count.items():
        risk = {
            **risk0,
            "carrier": carrier,
            "flight_number": f"{carrier}5101",
            "origin": origin,
            "scheduled_departure": departure,
        }
        a = rating.price(old, old.inputs.parse(risk), sold_at).breakdown
        b = rating.price(new, new.inputs.parse(risk), sold_at).breakdown
        assert a is not None and b is not None
        want_a += a.total * n
        want_b += b.total * n
        changed += n if a.total != b.total else 0
    assert changed == sum(n for (c, _, _), n in count.items() if c == "MU")

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    html = tmp_path / "impact.html"
    answer = CliRunner().invoke(
        main,
        [
            "products", "impact", "flight_delay", "--from", "2026-11-25", "--to", "2026-12",
            "--book", "policies", "--mode", "test", "--html", str(html), "--json",
            "--path", str(products),
        ],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.output[answer.output.index("{") :])
    assert report["rows"] == BOOK and report["priced_on_both"] == BOOK
    assert report["changed"] == changed
    assert Decimal(report["total_premium"]["from"]) == want_a
    assert Decimal(report["total_premium"]["to"]) == want_b
    assert report["eligibility"]["lose_cover"] == 0
    assert sum(report["change_bands"].values()) == BOOK
    assert report["change_bands"]["unchanged"] == BOOK - changed
    top = report["biggest_movers"][0]
    assert (top["segment"], top["level"]) in (("carrier", "MU"), ("flight_number", "MU5101"))
    page = html.read_text()
    assert "Impact of flight_delay 2026-11-25 → 2026-12" in page and "<svg" in page

    # The book exported, then priced a slice at a time on a Dask LocalCluster: the same.
    dataset = tmp_path / "book"
    answer = CliRunner().invoke(main, ["export", "policies", "--out", str(dataset)])
    assert answer.exit_code == 0, answer.output
    assert f"{BOOK:,} rows" in answer.output
    answer = CliRunner().invoke(
        main,
        [
            "products", "impact", "flight_delay", "--from", "2026-11-25", "--to", "2026-12",
            "--book", str(dataset), "--dask", "local", "--mode", "test",
            "--html", str(tmp_path / "dask.html"), "--json", "--path", str(products),
        ],
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    on_dask = json.loads(answer.output[answer.output.index("{") :])
    assert {**on_dask, "book": "-", "html": "-"} == {**report, "book": "-", "html": "-"}
