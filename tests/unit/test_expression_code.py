"""The generated code of an expression means what the column evaluator (an independent
implementation of the same language, used by the batch path) means: for random
expressions over random values, the two agree on the value, and whatever the generated
code refuses the column evaluator refuses too (it evaluates every branch, so it may
refuse more)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.errors import EvaluationError
from pricing.expressions import compile_expression

NAMES = ("a", "b", "c", "s", "flag", "missing")
_TZ = ZoneInfo("Asia/Shanghai")
_FAILURES = (EvaluationError, TypeError, ArithmeticError, InvalidOperation, ValueError)

_leaves = st.one_of(
    st.sampled_from(NAMES),
    st.integers(-3, 300).map(str),
    st.sampled_from(["0.5", "1.05", "2.0", "0.0", '"x"', '"y"', "true", "false"]),
)


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    compare = st.tuples(
        inner,
        st.lists(
            st.tuples(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), inner),
            min_size=1,
            max_size=3,
        ),
    ).map(lambda t: "(" + t[0] + "".join(f" {op} {right}" for op, right in t[1]) + ")")
    logic = st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    return st.one_of(
        binary,
        compare,
        logic,
        inner.map(lambda e: f"(not {e})"),
        inner.map(lambda e: f"(-{e})"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, st.lists(inner, max_size=3)).map(
            lambda t: f"({t[0]} in [{', '.join(t[1])}])"
        ),
        st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        inner.map(lambda e: f"abs({e})"),
        st.sampled_from(["hours", "days", "minutes"]).map(lambda f: f"{f}(2)"),
    )


expressions = st.recursive(_leaves, _grow, max_leaves=12)
_values = st.one_of(
    st.integers(-5, 500),
    st.decimals(-100, 100, places=2, allow_nan=False),
    st.booleans(),
    st.sampled_from(["x", "y"]),
    st.none(),
)


@settings(max_examples=1500, deadline=None)
@given(source=expressions, values=st.fixed_dictionaries({n: _values for n in NAMES}))
def test_generated_code_agrees_with_the_column_evaluator(
    source: str, values: dict[str, Any]
) -> None:
    expr = compile_expression(source, NAMES, _TZ)
    try:
        got: Any = expr(values)
    except _FAILURES:
        got = "refused"
    try:
        want: Any = expr.columns({n: [v] for n, v in values.items()}, 1)[0]
    except _FAILURES:
        want = "refused"
    if want == "refused":
        return  # the column form evaluates every branch: it may refuse more
    assert got == want
    assert type(got) is type(want)


def test_a_chained_comparison_evaluates_its_middle_once() -> None:
    expr = compile_expression("1 < a < 3 < b", ["a", "b"], _TZ)
    assert expr({"a": 2, "b": 4}) is True
    assert expr({"a": 2, "b": None}) is False
    assert expr({"a": None, "b": 4}) is False
    assert expr({"a": Decimal("3"), "b": 4}) is False
