"""Reading a risk: the fast readers (pricing/input_fast.py) never decide anything the
careful reading would not. For any risk, `parse` returns exactly what `parse_carefully`
returns (same values, same types) or raises exactly the same errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.errors import InputErrors
from pricing.inputs import InputSet, InputSpec
from pricing.loader import load_catalog
from pricing.model import Edition
from tests.edition_files import PRODUCTS
from tests.risk_strategies import risk

EDITIONS = [e for p in load_catalog(PRODUCTS).products.values() for e in p.editions]

#: odd forms of the values partners send: numbers for amounts, wrong currencies, extra keys
_odd = st.one_of(
    st.integers(-3, 10**16),
    st.floats(allow_nan=False),
    st.sampled_from(["", " 1", "1e3", "1.000", "NaN", "２", "2026-02-30", "2026-01-01T00:00:00"]),
    st.dictionaries(st.sampled_from(["amount", "currency", "x"]), st.sampled_from(["1", "CNY", 1])),
    st.booleans(),
    st.none(),
)
#: amounts at and around what money inputs allow
_amounts = st.fixed_dictionaries(
    {
        "amount": st.sampled_from(
            ["1.005", "0.00", "0.01", "5000.01", "100000.00", "100000.01", "-1.00", "7", 7]
        ),
        "currency": st.sampled_from(["CNY", "USD", "cny", "JPY"]),
    }
)


def _read(read: Any, raw: Any) -> Any:
    try:
        values = read(raw)
    except InputErrors as exc:
        return ("refused", [(e.param, e.code, e.message) for e in exc.errors])
    return {k: (type(v), v) for k, v in values.items()}


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.ref)
def test_fast_reading_agrees_with_careful_reading(edition: Edition) -> None:
    names = [s.name for s in edition.inputs.specs]
    example = edition.example(edition.effective_from)

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        raw=risk(edition),
        name=st.sampled_from([*names, "extra"]),
        odd=st.one_of(_odd, _amounts, st.sampled_from([str(v) for v in example.values()])),
    )
    def check(raw: dict[str, Any], name: str, odd: Any) -> None:
        # a drawn risk, and one odd value in it or in an otherwise valid risk
        for candidate in (raw, {**raw, name: odd}, {**example, name: odd}):
            want = _read(edition.inputs.parse_carefully, candidate)
            assert _read(edition.inputs.parse, candidate) == want

    check()


def test_json_of_a_parsed_risk_is_the_careful_json() -> None:
    for edition in EDITIONS:
        parsed = edition.inputs.parse(edition.example(edition.effective_from))
        by_name = edition.inputs.by_name
        careful = {k: by_name[k].to_json(v) for k, v in parsed.items() if v is not None}
        assert edition.inputs.to_json(parsed) == careful


_ODD_VALUES: list[Any] = [
    None,
    "",
    " 1",
    "1e3",
    "２",
    "bogus",
    "XY9",
    "2026-02-30",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00Z",
    "1899-12-31",
    7,
    -1,
    10**16,
    1.5,
    True,
    {"amount": "1", "currency": "CNY", "x": 1},
    *(
        {"amount": amount, "currency": currency}
        for amount in ["1.005", "0.00", "0.01", "5000.01", "100000.00", "100000.01", "-1.00", 7]
        for currency in ["CNY", "USD", "cny"]
    ),
]


#: every type with every constraint, beyond what the shipped products declare
EVERY_KIND = InputSet(
    (
        InputSpec(
            "code",
            "string",
            pattern="^[A-Z]{2}[0-9]?$",
            enum=("AB", "CD1", "cd"),
            min_length=2,
            max_length=3,
        ),
        InputSpec("note", "string", required=False, min_length=1, max_length=4),
        InputSpec("count", "integer", minimum=Decimal(0), maximum=Decimal(10)),
        InputSpec("level", "integer", required=False, enum=(1, 2, 3), default=2),
        InputSpec("rate", "decimal", minimum=Decimal("0.5"), maximum=Decimal("1000")),
        InputSpec("fee", "money", currency="JPY", minimum=Decimal(1)),
        InputSpec("anything", "money", required=False),
        InputSpec("flag", "boolean", enum=(True,)),
        InputSpec("day", "date"),
        InputSpec("at", "datetime", required=False),
    )
)
EVERY_KIND_EXAMPLE = {
    "code": "CD1",
    "note": "ok",
    "count": 3,
    "level": 1,
    "rate": "2.50",
    "fee": {"amount": "100", "currency": "JPY"},
    "anything": {"amount": "1.00", "currency": "USD"},
    "flag": True,
    "day": "2027-01-31",
    "at": "2027-01-31T08:00:00+05:45",
}


@pytest.mark.parametrize(
    "inputs, example",
    [(e.inputs, e.example(e.effective_from)) for e in EDITIONS]
    + [(EVERY_KIND, EVERY_KIND_EXAMPLE)],
)
def test_each_odd_value_in_each_input_reads_as_carefully(
    inputs: InputSet, example: dict[str, Any]
) -> None:
    assert isinstance(_read(inputs.parse, example), dict)  # the example reads
    for spec in inputs.specs:
        variants = [str(v) for v in spec.enum or ()] + [str(spec.minimum), str(spec.maximum)]
        for odd in [*_ODD_VALUES, *variants, *(v for v in spec.enum or ())]:
            candidate = {**example, spec.name: odd}
            want = _read(inputs.parse_carefully, candidate)
            assert _read(inputs.parse, candidate) == want, (spec.name, odd)
