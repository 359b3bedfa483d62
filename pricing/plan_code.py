"""The pricing plan's fast path: one Python function generated per edition.

Derived values, eligibility rules, table lookups, loading conditions and the cover are
written out one after the other into a single function, each expression inlined as the
code the expression compiler generates for it (see expressions.expression_code). A risk
then costs one call instead of a call per expression and per step. The function raises
what the expressions raise, without the expression's name; PricingPlan catches that and
prices the risk again step by step, which raises the precise EvaluationError.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .expressions import Namespace, expression_code
from .premium import Trace
from .tables import ExactTable, Hit, key_text

if TYPE_CHECKING:
    from .plan import PricingPlan, Refusal

#: env, refusals, table hits, trace, cover start, cover end
FastResult = tuple[
    dict[str, Any],
    tuple["Refusal", ...],
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
    for name, expr in plan.derived:
        lines.append(f"    env[{name!r}] = {code(expr)}")
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


def _key_text(edition: Any, name: str, ns: Namespace) -> str:
    """How a table key is read from env: a required text input is its own key text."""
    spec = edition.inputs.by_name.get(name)
    if spec is not None and spec.type == "string" and spec.required:
        return f"env[{name!r}]"
    return f"{ns.bind(key_text)}(env[{name!r}])"
