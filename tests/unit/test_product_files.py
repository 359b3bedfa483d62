"""Invalid product files are refused whole, with the file, the line and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pricing.errors import ProductInvalid
from pricing.loader import load_catalog, load_product
from tests.edition_files import PRODUCTS, product_codes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(PRODUCTS, tmp_path / "products")
    return tmp_path / "products"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def refusal(root: Path, code: str) -> list[str]:
    with pytest.raises(ProductInvalid) as exc:
        load_product(root / code, root)
    return [str(e) for e in exc.value.errors]


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


ED_FD = "flight_delay/editions/2026-11"
ED_RS = "return_shipping/editions/2026-11"


def test_wrong_type_names_file_line_and_path(root: Path) -> None:
    edition = root / ED_FD / "edition.yaml"
    edit(edition, 'base: "14.00"', "base: fourteen")
    [error] = refusal(root, "flight_delay")
    line = line_of(edition, "base: fourteen")
    assert error.startswith(f"{ED_FD}/edition.yaml:{line} (rating.base):")
    assert "decimal" in error


def test_unknown_input_type(root: Path) -> None:
    edit(root / ED_FD / "edition.yaml", "type: datetime", "type: timestamp")
    error = refusal(root, "flight_delay")[0]
    assert "(inputs.scheduled_departure.type)" in error and "unknown type 'timestamp'" in error


def test_unknown_table_key(root: Path) -> None:
    table = root / ED_RS / "category.csv"
    table.write_text(table.read_text() + "furniture,1.20\n")
    [error] = refusal(root, "return_shipping")
    line = len(table.read_text().splitlines())
    assert error.startswith(f"{ED_RS}/category.csv:{line} (category):")
    assert "unknown table key 'furniture'" in error


def test_missing_enum_row_without_default(root: Path) -> None:
    edit(root / ED_RS / "region.csv", "cn_remote,1.60\n", "")
    [error] = refusal(root, "return_shipping")
    assert "region.csv" in error and "cn_remote" in error and "no row and no default" in error


def test_overlapping_bands(root: Path) -> None:
    table = root / ED_RS / "order_value.csv"
    edit(table, "50,200,1.00", "40,200,1.00")
    [error] = refusal(root, "return_shipping")
    assert error.startswith(f"{ED_RS}/order_value.csv:{line_of(table, '40,200')}")
    assert "overlaps" in error and f"line {line_of(table, ',50,0.80')}" in error


def test_band_gap(root: Path) -> None:
    table = root / ED_RS / "order_value.csv"
    edit(table, "50,200,1.00", "60,200,1.00")
    [error] = refusal(root, "return_shipping")
    assert "gap between 50" in error


def test_test_case_parts_not_summing(root: Path) -> None:
    tests = root / "flight_delay/tests.yaml"
    edit(tests, 'net: "15.22"', 'net: "15.23"')
    [error] = refusal(root, "flight_delay")
    assert error.startswith("flight_delay/tests.yaml:")
    assert "parts do not sum" in error


def test_fees_and_commission_exceeding_the_minimum_premium(root: Path) -> None:
    edit(root / ED_FD / "edition.yaml", 'amount: "0.10"', 'amount: "9.50"')
    errors = refusal(root, "flight_delay")
    assert any("(rating)" in e and "parts do not sum" in e and "negative" in e for e in errors)


def test_expressions_cannot_reach_python(root: Path) -> None:
    edition = root / ED_FD / "edition.yaml"
    edit(
        edition,
        "refuse_when: origin == destination",
        "refuse_when: __import__('os').system('true')",
    )
    [error] = refusal(root, "flight_delay")
    assert f"edition.yaml:{line_of(edition, '__import__')}" in error
    assert "only calls like name(arg, ...) are allowed" in error
    edit(edition, "__import__('os').system('true')", "origin.__class__")
    [error] = refusal(root, "flight_delay")
    assert "Attribute is not allowed" in error


def test_expression_naming_an_unknown_input(root: Path) -> None:
    edit(root / ED_FD / "edition.yaml", "hours_to_departure < 2", "hours_to_departure < min_hours")
    [error] = refusal(root, "flight_delay")
    assert "(eligibility[0].refuse_when)" in error and "unknown name 'min_hours'" in error


def test_invalid_yaml_names_the_line(root: Path) -> None:
    edition = root / ED_RS / "edition.yaml"
    edit(edition, "  category:\n", "  category: [unclosed\n")
    [error] = refusal(root, "return_shipping")
    assert error.startswith(f"{ED_RS}/edition.yaml:") and "invalid YAML" in error


def test_floats_never_reach_money(root: Path) -> None:
    # an unquoted 14.00 is read as Decimal("14.00"), never as a float
    edit(root / ED_FD / "edition.yaml", 'base: "14.00"', "base: 14.00")
    product = load_product(root / "flight_delay", root)
    assert str(product.editions[0].rating.base) == "14.00"


def test_every_error_is_reported_at_once(root: Path) -> None:
    edit(root / ED_RS / "edition.yaml", 'base: "0.80"', "base: -1")
    edit(root / ED_RS / "order_value.csv", "50,200,1.00", "40,200,1.00")
    errors = refusal(root, "return_shipping")
    assert len(errors) == 2


def test_example_risk_must_quote(root: Path) -> None:
    edit(
        root / ED_RS / "edition.yaml",
        "  category: apparel\n  buyer",
        "  category: virtual_goods\n  buyer",
    )
    [error] = refusal(root, "return_shipping")
    assert "(example_risk)" in error and "virtual_goods" in error


def test_one_bad_product_does_not_take_down_the_others(root: Path) -> None:
    edit(root / ED_RS / "edition.yaml", 'base: "0.80"', "base: nope")
    catalog = load_catalog(root)
    assert list(catalog.products) == [c for c in product_codes(root) if c != "return_shipping"]
    assert list(catalog.refused) == ["return_shipping"]


def test_content_hash_changes_with_any_file(root: Path) -> None:
    before = load_product(root / "return_shipping", root).editions[0].content_hash
    edit(root / ED_RS / "region.csv", "cn_east,1.00", "cn_east,1.01")
    after = load_product(root / "return_shipping", root).editions[0].content_hash
    assert before != after and after.startswith("sha256:")


# -- declared monotonicity and benefit tiers --------------------------------------------------

ED_NEW = "flight_delay/editions/2026-11-25"


def test_a_factor_declared_increasing_is_checked_row_by_row(root: Path) -> None:
    edition = root / ED_NEW / "edition.yaml"
    edit(
        edition,
        "      bands: departure_hour.csv\n",
        "      bands: departure_hour.csv\n      monotonic: increasing\n",
    )
    load_product(root / "flight_delay", root)  # the shipped hours rise through the day
    edit(root / ED_NEW / "departure_hour.csv", "15,19,1.20", "15,19,1.00")
    (error,) = refusal(root, "flight_delay")
    assert "factor departure_hour is declared increasing" in error
    assert (
        f"{ED_NEW}/departure_hour.csv:6 has 1.00 after 1.05 at {ED_NEW}/departure_hour.csv:5"
        in error
    )


def test_monotonic_needs_an_order_and_a_direction(root: Path) -> None:
    edition = root / ED_NEW / "edition.yaml"
    edit(edition, "      table: carrier.csv\n", "      table: carrier.csv\n      monotonic: up\n")
    (error,) = refusal(root, "flight_delay")
    assert "(rating.factors[0].monotonic): must be increasing or decreasing" in error
    edit(edition, "      monotonic: up\n", "      monotonic: increasing\n")
    (error,) = refusal(root, "flight_delay")
    assert "needs bands, or one integer, enum or boolean key" in error


def test_a_worse_tier_never_pays_less(root: Path) -> None:
    edition = root / ED_NEW / "edition.yaml"
    edit(edition, "  benefits:\n", "  tiers: [delay_120, delay_240]\n  benefits:\n")
    load_product(root / "flight_delay", root)
    edit(edition, 'amount: "300.00"', 'amount: "80.00"')
    edit(edition, 'payout: "300.00"', 'payout: "80.00"')  # a payout above it is refused too
    (error,) = refusal(root, "flight_delay")
    assert "delay_240 pays 80.00, less than the milder tier delay_120 (100.00)" in error
    edit(edition, "tiers: [delay_120, delay_240]", "tiers: [delay_120, delay_360]")
    (error,) = refusal(root, "flight_delay")
    assert "unknown benefit 'delay_360'" in error


def test_tiers_must_name_benefits_once(root: Path) -> None:
    edition = root / ED_NEW / "edition.yaml"
    edit(edition, "  benefits:\n", "  tiers: [[delay_120], delay_240]\n  benefits:\n")
    (error,) = refusal(root, "flight_delay")
    assert "(coverage.tiers[0]): must be a benefit code" in error
    edit(edition, "tiers: [[delay_120], delay_240]", "tiers: [delay_120, delay_120]")
    (error,) = refusal(root, "flight_delay")
    assert "lists a benefit twice" in error


def test_monotonic_covers_what_the_default_serves(root: Path) -> None:
    edition = root / ED_NEW / "edition.yaml"
    edit(
        edition,
        "      bands: departure_hour.csv\n",
        '      bands: departure_hour.csv\n      monotonic: increasing\n      default: "0.50"\n',
    )
    edit(root / ED_NEW / "departure_hour.csv", "19,24,1.25\n", "")  # 19-24 falls to the default
    (error,) = refusal(root, "flight_delay")
    assert "default has 0.50 after 1.20" in error
