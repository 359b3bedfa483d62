"""Rating tables (CSV files beside edition.yaml): exact keys or bands, each row with its
line; every key an input can take has a row or a default; declared orders are checked."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from itertools import product as cartesian
from pathlib import Path

from ..errors import (
    ProductFileError,
)
from ..inputs import InputSpec
from ..source import Path_, parse_csv, read_text
from ..tables import BandTable, ExactTable, Hit, Table, key_text
from .reader import Collect, Reader, to_decimal


def exact_table(
    csv_file: Path,
    display: str,
    keys: tuple[str, ...],
    specs: dict[str, InputSpec],
    default: Decimal | None,
    out: Collect,
) -> ExactTable | None:
    try:
        table = parse_csv(read_text(csv_file, display), display)
    except ProductFileError as exc:
        out.add(exc)
        return None
    expected = [*keys, "factor"]
    if table.header != expected:
        out.add(
            table.error(
                table.header_line,
                f"header must be: {','.join(expected)} (got {','.join(table.header)})",
            )
        )
        return None
    rows: dict[tuple[str, ...], Hit] = {}
    first_line: dict[tuple[str, ...], int] = {}
    mentioned: set[tuple[str, ...]] = set()  # rows with errors still count as present
    for row in table.rows:
        key = tuple(row.values[k] for k in keys)
        mentioned.add(key)
        bad = False
        for k in keys:
            problem = key_problem(specs[k], row.values[k])
            if problem:
                out.add(
                    table.error(
                        row.line, f"unknown table key {row.values[k]!r} for {k}: {problem}", k
                    )
                )
                bad = True
        factor = to_decimal(row.values["factor"])
        if factor is None or factor <= 0:
            out.add(
                table.error(
                    row.line,
                    f"factor must be a positive decimal, got {row.values['factor']!r}",
                    "factor",
                )
            )
            bad = True
        if key in first_line:
            out.add(table.error(row.line, f"duplicate key {key} (first at line {first_line[key]})"))
            bad = True
        if not bad:
            assert factor is not None
            rows[key] = Hit(factor, f"{display}:{row.line}")
            first_line[key] = row.line
    # Completeness: every combination of declared values needs a row, or a default.
    domains = [key_domain(specs[k]) for k in keys]
    if default is None and all(d is not None for d in domains):
        missing = [combo for combo in cartesian(*domains) if combo not in mentioned]  # type: ignore[arg-type]
        if missing:
            shown = ", ".join("/".join(m) for m in missing[:8]) + (
                " ..." if len(missing) > 8 else ""
            )
            out.add(
                table.error(
                    None,
                    f"no row and no default for {len(missing)} value(s) of {','.join(keys)}: {shown}",
                )
            )
    return ExactTable(display, keys, rows, default)


def check_monotonic(
    r: Reader, path: Path_, name: str, table: Table, specs: dict[str, InputSpec]
) -> None:
    """`monotonic: increasing|decreasing`: along the bands (or the key's values, in their
    order) the factor never goes the other way, e.g. a later departure hour never costs less."""
    direction = r.at(path)
    if direction not in ("increasing", "decreasing"):
        r.fail(path, "must be increasing or decreasing")
        return
    ordered: list[Hit]
    if isinstance(table, BandTable):
        ordered = list(table.hits)
        if table.default is not None:
            # The default serves gaps and open ends: it must fit the order there too.
            default = Hit(table.default, "default")
            inf = Decimal("Infinity")
            ordered = [] if table.lowers[0] == -inf else [default]
            for i, hit in enumerate(table.hits):
                ordered.append(hit)
                last = i == len(table.hits) - 1
                if (last and table.uppers[i] != inf) or (
                    not last and table.lowers[i + 1] > table.uppers[i]
                ):
                    ordered.append(default)
    else:
        spec = specs[table.keys[0]] if len(table.keys) == 1 else None
        domain = key_domain(spec) if spec is not None else None
        if domain is None:
            r.fail(path, "needs bands, or one integer, enum or boolean key whose order is known")
            return
        if domain == ["true", "false"]:
            domain = ["false", "true"]  # increasing means true costs at least as much
        ordered = []
        for v in domain:
            found = table.rows.get((v,))
            if found is None and table.default is not None:
                found = Hit(table.default, "default")
            if found is not None:
                ordered.append(found)
    for prev, nxt in pairwise(ordered):
        wrong = nxt.value < prev.value if direction == "increasing" else nxt.value > prev.value
        if wrong:
            r.fail(
                path,
                f"factor {name} is declared {direction}, but {nxt.source} has {nxt.value} "
                f"after {prev.value} at {prev.source}",
            )


def key_domain(spec: InputSpec) -> list[str] | None:
    """The texts a key can take, in order, when they are few enough to list (an
    enumeration, true/false, a bounded whole number); else None."""
    if spec.enum is not None:
        return [key_text(v) for v in spec.enum]
    if spec.type == "boolean":
        return ["true", "false"]
    bounded = spec.minimum is not None and spec.maximum is not None
    if spec.type == "integer" and bounded and spec.maximum - spec.minimum <= 1000:  # type: ignore[operator]
        return [str(i) for i in range(int(spec.minimum), int(spec.maximum) + 1)]  # type: ignore[arg-type]
    return None


def key_problem(spec: InputSpec, cell: str) -> str | None:
    """Why a table cell can never match a value of the key `spec` (None: it can)."""
    domain = key_domain(spec)
    if domain is not None:
        return None if cell in domain else f"expected one of {', '.join(domain[:24])}"
    if spec.type == "integer":
        try:
            int(cell)
        except ValueError:
            return "expected a whole number"
        return None
    if spec.type == "string":
        if spec.pattern:
            import re

            if not re.fullmatch(spec.pattern, cell):
                return f"does not match the input's pattern {spec.pattern}"
        return None
    return f"{spec.type} inputs cannot be exact table keys (use bands)"


def band_table(
    csv_file: Path, display: str, key: str, spec: InputSpec, default: Decimal | None, out: Collect
) -> BandTable | None:
    try:
        table = parse_csv(read_text(csv_file, display), display)
    except ProductFileError as exc:
        out.add(exc)
        return None
    if table.header != ["from", "to", "factor"]:
        out.add(
            table.error(
                table.header_line, f"header must be: from,to,factor (got {','.join(table.header)})"
            )
        )
        return None
    if spec.type not in ("integer", "decimal", "money"):
        out.add(table.error(None, f"bands need a numeric input; {key} is {spec.type}"))
        return None
    bands: list[tuple[Decimal, Decimal, Hit, int]] = []
    inf = Decimal("Infinity")
    for row in table.rows:
        lo = to_decimal(row.values["from"]) if row.values["from"] else -inf
        hi = to_decimal(row.values["to"]) if row.values["to"] else inf
        factor = to_decimal(row.values["factor"])
        if lo is None or hi is None:
            out.add(table.error(row.line, "from/to must be decimal numbers or empty (unbounded)"))
            continue
        if not lo < hi:
            out.add(table.error(row.line, f"band is empty: from {lo} is not below to {hi}"))
            continue
        if factor is None or factor <= 0:
            out.add(
                table.error(
                    row.line,
                    f"factor must be a positive decimal, got {row.values['factor']!r}",
                    "factor",
                )
            )
            continue
        bands.append((lo, hi, Hit(factor, f"{display}:{row.line}"), row.line))
    bands.sort(key=lambda b: b[0])
    for prev, nxt in pairwise(bands):
        if nxt[0] < prev[1]:
            out.add(
                table.error(
                    nxt[3],
                    f"band [{nxt[0]}, {nxt[1]}) overlaps band [{prev[0]}, {prev[1]}) at line {prev[3]}",
                )
            )
        elif nxt[0] > prev[1] and default is None:
            out.add(
                table.error(
                    nxt[3],
                    f"gap between {prev[1]} (line {prev[3]}) and {nxt[0]}; add a band or a default",
                )
            )
    if not bands:
        out.add(table.error(None, "no bands"))
        return None
    if default is None:
        low_needed = spec.minimum if spec.minimum is not None else -inf
        high_needed = spec.maximum if spec.maximum is not None else inf
        if bands[0][0] > low_needed:
            out.add(
                table.error(
                    bands[0][3],
                    f"values of {key} from {low_needed} to {bands[0][0]} fall in no band",
                )
            )
        if bands[-1][1] <= high_needed and bands[-1][1] != inf:
            out.add(
                table.error(bands[-1][3], f"values of {key} from {bands[-1][1]} up fall in no band")
            )
    return BandTable(
        display,
        key,
        tuple(b[0] for b in bands),
        tuple(b[1] for b in bands),
        tuple(b[2] for b in bands),
        default,
    )
