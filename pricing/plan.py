"""An edition compiled once into a pricing plan: what engine.price runs for each risk.

The plan holds everything about the edition that does not depend on the risk: the
expressions (already compiled to Python code), table lookups keyed the way the risk's
values arrive, and the constant texts of the worksheet. The arithmetic after the table
lookups depends only on the factor values and which loadings apply, and a book repeats
those few combinations endlessly, so each combination's premium and the numbers its
worksheet shows are computed once and kept (a bounded memo per plan).

The fast path is one Python function generated per edition (generate, below): derived
values, eligibility rules, table lookups, loading conditions and the cover written out
one after the other, each expression inlined as the code the expression compiler writes
for it, a call shared by later expressions computed once. It raises what the expressions
raise, without the expression's name; the plan then prices the risk again step by step
(price_stepwise), which raises the precise EvaluationError. The worksheet is built only
when someone reads it (priced.py), from the numbers the plan kept.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from . import premium
from .errors import EvaluationError
from .expressions import Namespace, expression_code
from .model import Edition
from .money import Money
from .premium import MEMO_SIZE, Trace
from .priced import Priced, Refusal
from .tables import BandTable, ExactTable, Hit, Table, ValueTable, key_text, value_key

COVER_TOO_LONG = "cover_too_long"
_US = timedelta(microseconds=1)


def _exact_lookup(table: ExactTable) -> Callable[[dict[str, Any]], Hit]:
    default = Hit(table.default, "default") if table.default is not None else None
    if len(table.keys) != 1:

        def lookup_many(env: dict[str, Any]) -> Hit:
            hit = table.rows.get(tuple(key_text(env[k]) for k in table.keys))
            return hit if hit is not None else _missing(table, env, default)

        return lookup_many
    (name,) = table.keys
    rows = {key[0]: hit for key, hit in table.rows.items()}

    def lookup(env: dict[str, Any]) -> Hit:
        value = env[name]
        hit = rows.get(value if type(value) is str else key_text(value))
        return hit if hit is not None else _missing(table, env, default)

    return lookup


def _missing(table: ExactTable, env: dict[str, Any], default: Hit | None) -> Hit:
    if default is not None:
        return default
    return table.lookup(env)  # raises the table's own error naming the keys


def _lookup(table: Table) -> Callable[[dict[str, Any]], Hit]:
    if isinstance(table, BandTable):
        if table.default is None and table.lowers[:1] == (Decimal("-Infinity"),):
            lowers, uppers, hits, key = table.lowers, table.uppers, table.hits, table.key

            def band(env: dict[str, Any]) -> Hit:
                raw = env[key]
                value = raw.amount if type(raw) is Money else raw
                if type(value) is Decimal or type(value) is int:
                    i = bisect_right(lowers, value) - 1
                    if value < uppers[i]:
                        return hits[i]
                return table.lookup(env)  # not a number, or no band: its own error

            return band
        return table.lookup
    return _exact_lookup(table)


class PricingPlan:
    """Prices risks on one edition (see the module docstring)."""

    def __init__(self, edition: Edition) -> None:
        self.edition = edition
        rating = edition.rating
        self.money_inputs = tuple(s.name for s in edition.inputs.specs if s.type == "money")
        self.derived = tuple(
            (d.spec.name, d.expr if d.expr is not None else d.value) for d in edition.derived
        )
        self.eligibility = tuple(
            (rule.refuse_when, Refusal(rule.code, rule.message)) for rule in edition.eligibility
        )
        self.lookups = tuple(_lookup(f.table) for f in rating.factors)
        self.lookup_keys = tuple(
            (f.table.key,) if isinstance(f.table, BandTable) else f.table.keys
            for f in rating.factors
        )
        self.conditions = tuple(loading.when for loading in rating.loadings)
        self.memo: dict[tuple[Any, ...], Trace] = {}
        self.longest = edition.longest_cover
        #: the rating steps of a worksheet, by table hits and loadings (see priced.py)
        self.sheets: dict[tuple[Any, ...], Any] = {}

    def trace(self, factors: tuple[Decimal, ...], applies: tuple[bool, ...]) -> Trace:
        """The premium of a combination (memoised; call inside the engine's context)."""
        key = factors + applies
        found = self.memo.get(key)
        if found is None:
            found = premium.trace(self.edition.rating, self.edition.currency, factors, applies)
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            self.memo[key] = found
        return found

    def price(self, risk: dict[str, Any], now: datetime) -> Priced:
        """Price a parsed risk at `now`; call inside the engine's decimal context."""
        try:
            env, refusals, hits, trace, start, end = self.fast(risk, now)
        except EvaluationError:
            raise
        except Exception:
            # an expression failed: step by step, to raise the error that names it
            return self.price_stepwise(risk, now)
        if (
            trace is not None
            and isinstance(start, datetime)
            and isinstance(end, datetime)
            and start < end
            and (self.longest is None or end - start <= self.longest)
        ):  # priced: the common case, in one test
            return Priced(
                self.edition,
                risk,
                env,
                (),
                trace.breakdown,
                start,
                end,
                now,
                trace,
                hits,
                self.sheets,
            )
        return self._priced(risk, now, env, refusals, hits, trace, start, end)

    def price_stepwise(self, risk: dict[str, Any], now: datetime) -> Priced:
        """The same as `price`, one expression at a time (each error names its expression)."""
        env = build_env(self, risk, now)
        refusals = tuple(refusal for rule, refusal in self.eligibility if rule(env))
        if refusals:
            return self._priced(risk, now, env, refusals, (), None, None, None)
        hits = tuple(lookup(env) for lookup in self.lookups)
        applies = tuple(when is None or bool(when(env)) for when in self.conditions)
        trace = self.trace(tuple(hit.value for hit in hits), applies)
        start = self.edition.coverage_starts(env)
        end = self.edition.coverage_ends(env)
        return self._priced(risk, now, env, (), hits, trace, start, end)

    def _priced(
        self,
        risk: dict[str, Any],
        now: datetime,
        env: dict[str, Any],
        refusals: tuple[Refusal, ...],
        hits: tuple[Hit, ...],
        trace: Trace | None,
        start: Any,
        end: Any,
    ) -> Priced:
        edition = self.edition
        if trace is None:
            return Priced(
                edition, risk, env, refusals, None, None, None, now, None, (), self.sheets
            )
        check_cover(edition, start, end)
        too_long = cover_too_long(edition, start, end)
        if too_long is not None:
            return Priced(
                edition, risk, env, (too_long,), None, start, end, now, trace, hits, self.sheets
            )
        return Priced(
            edition, risk, env, (), trace.breakdown, start, end, now, trace, hits, self.sheets
        )

    @cached_property
    def fast(self) -> FastPrice:
        return generate(self)


def build_env(plan: PricingPlan, risk: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What the expressions see: `now`, the inputs (money as its amount), derived values."""
    env = {"now": now, **risk}
    for name in plan.money_inputs:
        value = env[name]
        if value is not None:
            env[name] = value.amount
    for name, expr in plan.derived:
        env[name] = expr(env)
    return env


def check_cover(edition: Edition, start: Any, end: Any) -> None:
    """A cover is two date-times, the start before the end; else the edition is broken."""
    if not isinstance(start, datetime) or not isinstance(end, datetime) or not start < end:
        raise EvaluationError(
            f"{edition.ref}: coverage must start before it ends, got {start!r} .. {end!r}"
        )


def cover_too_long(edition: Edition, start: datetime, end: datetime) -> Refusal | None:
    """The edition's longest cover (coverage.longest) refuses a longer one."""
    longest = edition.longest_cover
    if longest is None or end - start <= longest:
        return None
    return Refusal(
        COVER_TOO_LONG,
        f"The cover would last {_days(end - start)}; this product covers at most {_days(longest)}.",
    )


def _days(delta: timedelta) -> str:
    days = Decimal(delta // _US) / Decimal(86_400_000_000)
    return f"{days.quantize(Decimal('0.1'))} days"


def plan_of(edition: Edition) -> PricingPlan:
    """The edition's pricing plan, made on first use and kept with the edition."""
    plan: PricingPlan | None = edition.compiled.get("plan")
    if plan is None:
        plan = edition.compiled.setdefault("plan", PricingPlan(edition))
    return plan


#: env, refusals, table hits, trace, cover start, cover end
FastResult = tuple[
    dict[str, Any],
    tuple[Refusal, ...],
    tuple[Hit, ...],
    Trace | None,
    Any,
    Any,
]
FastPrice = Callable[[dict[str, Any], datetime], FastResult]


def generate(plan: PricingPlan) -> FastPrice:
    edition = plan.edition
    ns = Namespace()
    tz = edition.timezone
    shared: dict[str, str] = {}

    def code(expr: Any) -> str:
        # every expression below runs each time the code reaches it (the early return
        # of a refused risk ends the function): a call one computes, the next may read
        return expression_code(expr.source, expr.names, tz, ns, shared)

    lines = ["def fast(risk, now):", "    env = {'now': now, **risk}"]
    for name in plan.money_inputs:
        lines += [
            f"    v = env[{name!r}]",
            "    if v is not None:",
            f"        env[{name!r}] = v.amount",
        ]
    for d in edition.derived:
        value = code(d.expr) if d.table is None else _value_lookup(edition, d.table, ns)
        lines.append(f"    env[{d.spec.name!r}] = {value}")
    lines.append("    refusals = ()")
    for rule, refusal in plan.eligibility:
        lines += [f"    if {code(rule)}:", f"        refusals += ({ns.bind(refusal)},)"]
    lines += ["    if refusals:", "        return env, refusals, (), None, None, None"]
    hits = []
    for i, (factor, lookup) in enumerate(zip(edition.rating.factors, plan.lookups, strict=True)):
        table = factor.table
        if isinstance(table, ExactTable):
            # the table's own dictionary, keyed as the values come; a miss (a default, or
            # no row) is the table's own lookup
            keys = "".join(f"{_key_text(edition, k, ns)}, " for k in table.keys)
            lines.append(
                f"    h{i} = {ns.bind(table.rows)}.get(({keys})) or {ns.bind(lookup)}(env)"
            )
        else:
            lines.append(f"    h{i} = {ns.bind(lookup)}(env)")
        hits.append(f"h{i}")
    flags = []
    for i, when in enumerate(plan.conditions):
        lines.append(f"    a{i} = True" if when is None else f"    a{i} = not not ({code(when)})")
        flags.append(f"a{i}")
    values = "".join(f"{h}.value, " for h in hits)
    key = values + "".join(f"{a}, " for a in flags)
    lines += [
        f"    trace = {ns.bind(plan.memo)}.get(({key}))",
        "    if trace is None:",
        f"        trace = {ns.bind(plan.trace)}(({values}), ({''.join(f'{a}, ' for a in flags)}))",
        f"    start = {code(edition.coverage_starts)}",
        f"    end = {code(edition.coverage_ends)}",
        f"    return env, (), ({''.join(f'{h}, ' for h in hits)}), trace, start, end",
    ]
    fast: FastPrice = ns.evaluate("\n".join(lines) + "\n")
    return fast


def _value_lookup(edition: Edition, table: ValueTable, ns: Namespace) -> str:
    """A derived value's lookup as code: the table's own dictionary, keyed as the values
    come; a key it lacks gives the default or, with none, a KeyError, so that the
    step-by-step path raises the table's own error."""
    keys = "".join(
        f"env[{k!r}], " if _plain_text(edition, k) else f"{ns.bind(value_key)}(env[{k!r}]), "
        for k in table.keys
    )
    if table.default is None:
        return f"{ns.bind(table.rows)}[({keys})]"
    return f"{ns.bind(table.rows)}.get(({keys}), {ns.bind(table.default)})"


def _plain_text(edition: Edition, name: str) -> bool:
    """A required text input: its value is its own key text, and never absent."""
    spec = edition.inputs.by_name.get(name)
    return spec is not None and spec.type == "string" and spec.required


def _key_text(edition: Any, name: str, ns: Namespace) -> str:
    """How a table key is read from env: a required text input is its own key text."""
    if _plain_text(edition, name):
        return f"env[{name!r}]"
    return f"{ns.bind(key_text)}(env[{name!r}])"
