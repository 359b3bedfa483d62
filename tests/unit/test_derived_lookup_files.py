"""A derived value looked up in a table (a route's band by origin and destination) loads
with every cell typed as the value is declared; a bad cell, a duplicate row, a missing
key column or an unknown key is refused with its file and line. The product is written
into the test's own folder (tests/route_edition.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pricing.diff import diff_editions
from pricing.errors import ProductInvalid
from pricing.loader import load_product, load_trigger_types
from pricing.loading.edition import load_recorded_edition
from tests.route_edition import CODE, EDITION, EDITION_YAML, TABLES, write_route_product

WHERE = f"{CODE}/editions/{EDITION}"


def line_of(text: str, needle: str, after: str = "") -> int:
    """The line (from 1) of the first line holding `needle`, after the one holding `after`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i + 1 for i in range(start, len(lines)) if needle in lines[i])


def refused(tmp_path: Path, **files: str) -> list[str]:
    write_route_product(tmp_path, **files)
    with pytest.raises(ProductInvalid) as exc:
        load_product(tmp_path / CODE, tmp_path)
    return [str(e) for e in exc.value.errors]


def test_a_looked_up_value_is_read_as_its_declared_type(tmp_path: Path) -> None:
    write_route_product(tmp_path)
    edition = load_product(tmp_path / CODE, tmp_path).editions[0]
    tables = {d.spec.name: d.table for d in edition.derived if d.table is not None}
    band = tables["route_band"]
    assert band is not None and band.keys == ("origin", "destination")
    assert band.rows[("SHA", "PEK")] == "domestic_trunk"
    assert band.default == "regional"
    assert band.file == f"{WHERE}/routes.csv"
    distance = tables["distance_km"]
    assert distance is not None
    # columns matched by name, cells typed: a whole number, the default too
    assert distance.rows[("PEK", "LHR")] == 8150 and distance.default == 900
    weight = tables["cabin_weight"]
    assert weight is not None and weight.default is None
    assert weight.rows[("business", "international")] == Decimal("2.6")
    member = tables["member_discount"]
    assert member is not None
    assert member.rows == {("true",): Decimal("0.05"), ("false",): Decimal(0)}
    assert member.default == Decimal("0.00")


def test_the_content_hash_covers_the_lookup_tables(tmp_path: Path) -> None:
    write_route_product(tmp_path)
    before = load_product(tmp_path / CODE, tmp_path).editions[0]
    assert before.files["routes.csv"] == TABLES["routes.csv"]
    write_route_product(
        tmp_path,
        routes_csv=TABLES["routes.csv"].replace("SHA,CAN,domestic_trunk", "SHA,CAN,regional"),
    )
    after = load_product(tmp_path / CODE, tmp_path).editions[0]
    assert after.content_hash != before.content_hash
    # a pinned edition is rebuilt from its recorded files, tables and all
    again = load_recorded_edition(CODE, EDITION, before.files, load_trigger_types(tmp_path))
    assert again.content_hash == before.content_hash
    assert again.derived[0].table == before.derived[0].table
    assert [str(c) for c in diff_editions(before, after)] == [
        "~ derived route_band: origin=SHA, destination=CAN: domestic_trunk -> regional"
    ]


def _edit(old: str, new: str, text: str = EDITION_YAML) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_a_cell_that_is_not_a_value_names_its_file_and_line(tmp_path: Path) -> None:
    routes = _edit("SHA,NRT,international", "SHA,NRT,intercontinental", TABLES["routes.csv"])
    distances = _edit("1210,SHA,CAN", "far,SHA,CAN", TABLES["distances.csv"])
    distances = _edit("1770,SHA,NRT", "-5,SHA,NRT", distances)
    weights = _edit("economy,regional,1.00", "economy,regional,0.4", TABLES["cabin_weights.csv"])
    errors = refused(
        tmp_path, routes_csv=routes, distances_csv=distances, cabin_weights_csv=weights
    )
    assert errors == [
        f"{WHERE}/routes.csv:{line_of(routes, 'intercontinental')} (value): 'intercontinental' "
        "is not a value of route_band: must be one of: domestic_trunk, regional, international",
        f"{WHERE}/distances.csv:{line_of(distances, 'far')} (value): 'far' is not a value of "
        "distance_km: must be a whole number",
        f"{WHERE}/distances.csv:{line_of(distances, '-5')} (value): '-5' is not a value of "
        "distance_km: must be at least 0",
        f"{WHERE}/cabin_weights.csv:{line_of(weights, '0.4')} (value): '0.4' is not a value of "
        "cabin_weight: must be at least 0.5",
    ]


def test_a_default_that_is_not_a_value_names_the_edition_line(tmp_path: Path) -> None:
    text = _edit("default: regional", "default: remote")
    text = _edit("default: 900", 'default: "900.5"', text)
    half = line_of(text, "900.5")
    assert refused(tmp_path, edition_yaml=text) == [
        f"{WHERE}/edition.yaml:{line_of(text, 'default: remote')} (derived.route_band.default): "
        "'remote' is not a value of route_band: must be one of: domestic_trunk, regional, "
        "international",
        f"{WHERE}/edition.yaml:{half} (derived.distance_km.default): '900.5' is not a value of distance_km: "
        "must be a whole number",
    ]


def test_a_duplicate_key_names_its_line_and_the_first(tmp_path: Path) -> None:
    routes = TABLES["routes.csv"] + "SHA,PEK,regional\n"
    first = line_of(routes, "SHA,PEK,")
    assert refused(tmp_path, routes_csv=routes) == [
        f"{WHERE}/routes.csv:{len(routes.splitlines())}: duplicate key ('SHA', 'PEK') "
        f"(first at line {first})"
    ]


def test_a_key_cell_the_input_never_takes_names_its_line(tmp_path: Path) -> None:
    routes = TABLES["routes.csv"] + "sha,PEK,regional\n"
    assert refused(tmp_path, routes_csv=routes) == [
        f"{WHERE}/routes.csv:{len(routes.splitlines())} (origin): unknown table key 'sha' for "
        "origin: does not match the input's pattern ^[A-Z]{3}$"
    ]


def test_a_missing_key_column_names_the_edition_line(tmp_path: Path) -> None:
    routes = "origin,value\nSHA,domestic_trunk\n"
    lookup = line_of(EDITION_YAML, "lookup: [origin, destination]")
    assert refused(tmp_path, routes_csv=routes) == [
        f"{WHERE}/edition.yaml:{lookup} (derived.route_band.lookup): routes.csv has no column "
        "destination (its header: origin,value)"
    ]


def test_a_header_without_the_value_column_names_the_header_line(tmp_path: Path) -> None:
    routes = _edit("origin,destination,value", "origin,destination,band", TABLES["routes.csv"])
    assert refused(tmp_path, routes_csv=routes) == [
        f"{WHERE}/routes.csv:2: header must be: origin,destination,value "
        "(got origin,destination,band)"
    ]


def test_a_lookup_reads_inputs_and_earlier_derived_values_only(tmp_path: Path) -> None:
    text = _edit("lookup: [origin, destination]", "lookup: [origin, arrival]")
    # long_haul is declared after cabin_weight
    text = _edit("lookup: [cabin, route_band]", "lookup: [cabin, long_haul]", text)
    assert refused(tmp_path, edition_yaml=text) == [
        f"{WHERE}/edition.yaml:{line_of(text, 'arrival')} (derived.route_band.lookup): unknown "
        "input(s) arrival: a lookup reads inputs, and derived values declared before it",
        f"{WHERE}/edition.yaml:{line_of(text, '[cabin, long_haul]')} "
        "(derived.cabin_weight.lookup): unknown input(s) long_haul: a lookup reads inputs, "
        "and derived values declared before it",
    ]


def test_a_key_must_be_text_a_whole_number_or_true_false(tmp_path: Path) -> None:
    text = _edit("lookup: frequent_flyer", "lookup: scheduled_departure")
    assert refused(tmp_path, edition_yaml=text) == [
        f"{WHERE}/edition.yaml:{line_of(text, 'lookup: scheduled_departure')} "
        "(derived.member_discount.lookup): scheduled_departure is a datetime: a table is keyed "
        "on text, whole numbers or true/false"
    ]


def test_without_a_default_every_key_needs_a_row(tmp_path: Path) -> None:
    weights = _edit("business,international,2.6\n", "", TABLES["cabin_weights.csv"])
    assert refused(tmp_path, cabin_weights_csv=weights) == [
        f"{WHERE}/cabin_weights.csv: no row and no default for 1 value(s) of "
        "cabin,route_band: business/international"
    ]


def test_without_a_default_a_key_must_have_few_values_and_always_be_given(
    tmp_path: Path,
) -> None:
    text = _edit("    default: regional\n", "")
    text = _edit('    default: "0.00"\n', "", text)
    # a mapping's line is its first key's
    band = line_of(text, "lookup: [origin, destination]")
    member = line_of(text, "lookup: frequent_flyer")
    unlisted = "can take values no table lists (or declare its values: an enum, or a minimum and a maximum)"
    assert refused(tmp_path, edition_yaml=text) == [
        f"{WHERE}/edition.yaml:{band} (derived.route_band): needs a default: origin {unlisted}",
        f"{WHERE}/edition.yaml:{band} (derived.route_band): needs a default: destination "
        f"{unlisted}",
        f"{WHERE}/edition.yaml:{member} (derived.member_discount): needs a default: "
        "frequent_flyer is optional, and a risk without it has no row",
    ]


def test_a_derived_value_is_computed_or_looked_up(tmp_path: Path) -> None:
    text = _edit("    table: routes.csv\n", "    table: routes.csv\n    expr: origin\n")
    text = _edit("    table: members.csv\n", "", text)
    text = _edit("    table: distances.csv\n", "    table: ../distances.csv\n", text)
    assert refused(tmp_path, edition_yaml=text) == [
        f"{WHERE}/edition.yaml:{line_of(text, 'lookup: [origin, d')} (derived.route_band): give either "
        "expr (computed) or lookup and table (looked up), not both",
        f"{WHERE}/edition.yaml:{line_of(text, 'table: ../distances.csv')} "
        "(derived.distance_km.table): must name a CSV file beside edition.yaml",
        f"{WHERE}/edition.yaml:{line_of(text, 'lookup: frequent_flyer')} (derived.member_discount): "
        "a looked-up value needs lookup (its keys) and table (a CSV file)",
    ]


def test_a_missing_table_file_is_named(tmp_path: Path) -> None:
    text = _edit("table: routes.csv", "table: nowhere.csv")
    assert refused(tmp_path, edition_yaml=text) == [f"{WHERE}/nowhere.csv: file not found"]


def test_expressions_and_factors_know_the_type_of_a_looked_up_value(tmp_path: Path) -> None:
    text = _edit("refuse_when: origin == destination", 'refuse_when: route_band == "trunk"')
    text = _edit("refuse_when: distance_km > 9000", "refuse_when: route_band + 1 > 2", text)
    factor = TABLES["route_factor.csv"] + "intercontinental,1.60\n"
    errors = refused(tmp_path, edition_yaml=text, route_factor_csv=factor)
    trunk, plus = line_of(text, 'route_band == "trunk"'), line_of(text, "route_band + 1")
    lines = text.splitlines()
    at_trunk = lines[trunk - 1].index('"trunk"') + 1  # the expression's column in the file
    at_plus = lines[plus - 1].index("route_band + 1") + 1
    assert errors == [
        f"{WHERE}/edition.yaml:{trunk}:{at_trunk} (eligibility[1].refuse_when): 'trunk' "
        "is not a value of route_band ('domestic_trunk', 'regional', 'international') "
        "in 'route_band == \"trunk\"'",
        f"{WHERE}/edition.yaml:{plus}:{at_plus} (eligibility[2].refuse_when): "
        "cannot compute text + number in 'route_band + 1 > 2'",
        f"{WHERE}/route_factor.csv:{line_of(factor, 'intercontinental')} (route_band): unknown "
        "table key 'intercontinental' for route_band: expected one of domestic_trunk, regional, "
        "international",
    ]


def test_a_money_value_fits_its_currency(tmp_path: Path) -> None:
    text = _edit(
        '    table: members.csv\n    default: "0.00"\n    type: decimal',
        '    table: members.csv\n    default: "0.00"\n    type: money',
    )
    members = TABLES["members.csv"].replace("true,0.05", "true,0.055")
    assert refused(tmp_path, edition_yaml=text, members_csv=members) == [
        f"{WHERE}/members.csv:2 (value): '0.055' is not a value of member_discount: amount has "
        "more decimals than CNY allows"
    ]
    write_route_product(tmp_path, edition_yaml=text)
    edition = load_product(tmp_path / CODE, tmp_path).editions[0]
    member = next(d.table for d in edition.derived if d.spec.name == "member_discount")
    # as a money input, a money value is its amount to the expressions
    assert member is not None and member.rows[("true",)] == Decimal("0.05")
