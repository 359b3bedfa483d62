"""A semantic diff of two editions: what an actuary changed, not which lines of text moved.

The edition document is compared as data (rules in lists are matched by their `code` or
`name`, so reordering is no change), and every table (a rating factor's, or one a
derived value is looked up in) is compared cell by cell (a row is its key, or its band;
the default counts as a cell).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .model import Edition
from .tables import BandTable, ExactTable, Table, ValueTable, key_text

#: document paths that only describe (comments live outside the document anyway)
_IGNORED = {"description"}


@dataclass(frozen=True)
class Change:
    #: where, e.g. "rating.base" or "table carrier: carrier=MU"
    where: str
    old: str | None  # None: added
    new: str | None  # None: removed

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def to_json(self) -> dict[str, Any]:
        return {"where": self.where, "kind": self.kind, "old": self.old, "new": self.new}

    def __str__(self) -> str:
        if self.old is None:
            return f"+ {self.where}: {self.new}"
        if self.new is None:
            return f"- {self.where}: {self.old}"
        return f"~ {self.where}: {self.old} -> {self.new}"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal | datetime | date):
        return str(value)  # decimals keep the places the file gave them
    return value


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(_plain(value))


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    # A YAML number and a quoted amount are the same rate ("14.00" vs 14.0); two texts
    # are compared as texts ("01" is not "1").
    if _number(a) or _number(b):
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except ArithmeticError:
            return False
    return bool(a == b)


def _key_of(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ("code", "name"):
            if isinstance(item.get(key), str):
                return f"{key}={item[key]}"
    return None


def _walk(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            # descriptions only describe (an input may be *named* description, though)
            if (key in _IGNORED and path not in ("inputs", "derived")) or (
                path == "" and key == "tests"
            ):
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(Change(where, None, _text(b[key])))
            elif key not in b:
                out.append(Change(where, _text(a[key]), None))
            else:
                _walk(a[key], b[key], where, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        keys_a = [_key_of(x) for x in a]
        keys_b = [_key_of(x) for x in b]
        unique = len(set(keys_a)) == len(a) and len(set(keys_b)) == len(b)
        if all(keys_a) and all(keys_b) and unique:
            by_a = dict(zip(keys_a, a, strict=True))
            by_b = dict(zip(keys_b, b, strict=True))
            for key in [k for k in keys_a if k] + [k for k in keys_b if k not in by_a]:
                where = f"{path}[{key}]"
                if key not in by_b:
                    out.append(Change(where, _text(by_a[key]), None))
                elif key not in by_a:
                    out.append(Change(where, None, _text(by_b[key])))
                else:
                    _walk(by_a[key], by_b[key], where, out)
            if [k for k in keys_a if k in by_b] != [k for k in keys_b if k in by_a]:
                # Order matters for first-match rules (claims, refunds).
                out.append(
                    Change(
                        f"{path} order", ", ".join(map(str, keys_a)), ", ".join(map(str, keys_b))
                    )
                )
            return
        for i in range(max(len(a), len(b))):
            where = f"{path}[{i}]"
            if i >= len(a):
                out.append(Change(where, None, _text(b[i])))
            elif i >= len(b):
                out.append(Change(where, _text(a[i]), None))
            else:
                _walk(a[i], b[i], where, out)
        return
    if not _same(a, b):
        out.append(Change(path, _text(a), _text(b)))


def table_cells(table: Table) -> dict[str, Decimal]:
    """A table as {row label: factor}: "carrier=MU", "[7, 11)", "default"."""
    cells: dict[str, Decimal] = {}
    if isinstance(table, ExactTable):
        for key, hit in table.rows.items():
            cells[", ".join(f"{k}={v}" for k, v in zip(table.keys, key, strict=True))] = hit.value
    elif isinstance(table, BandTable):
        for lo, hi, hit in zip(table.lowers, table.uppers, table.hits, strict=True):
            # Bounds by value: "7" and "7.0" are the same band.
            bounds = (format(lo.normalize(), "f") if lo.is_finite() else str(lo) for lo in (lo, hi))
            cells[f"{table.key} in [{', '.join(bounds)})"] = hit.value
    if table.default is not None:
        cells["default"] = table.default
    return cells


def diff_editions(a: Edition, b: Edition) -> list[Change]:
    """What changes from edition a to edition b."""
    out: list[Change] = []
    doc_a = {k: v for k, v in a.document.items() if k != "rating"}
    doc_b = {k: v for k, v in b.document.items() if k != "rating"}
    _walk(doc_a, doc_b, "", out)
    rating_a = {k: v for k, v in (a.document.get("rating") or {}).items() if k != "factors"}
    rating_b = {k: v for k, v in (b.document.get("rating") or {}).items() if k != "factors"}
    _walk(rating_a, rating_b, "rating", out)
    factors_a = {f.name: f for f in a.rating.factors}
    factors_b = {f.name: f for f in b.rating.factors}
    for name in [*factors_a, *(n for n in factors_b if n not in factors_a)]:
        if name not in factors_b or name not in factors_a:
            table = (factors_a.get(name) or factors_b[name]).table
            cells = _text({k: str(v) for k, v in table_cells(table).items()})
            removed = name not in factors_b
            out.append(
                Change(f"factor {name}", cells if removed else None, None if removed else cells)
            )
            continue
        ta, tb = factors_a[name].table, factors_b[name].table
        keys_a = getattr(ta, "keys", None) or (ta.key,)  # type: ignore[union-attr]
        keys_b = getattr(tb, "keys", None) or (tb.key,)  # type: ignore[union-attr]
        if keys_a != keys_b:
            out.append(Change(f"factor {name} lookup", ", ".join(keys_a), ", ".join(keys_b)))
        cells_a, cells_b = table_cells(ta), table_cells(tb)
        for cell in [*cells_a, *(c for c in cells_b if c not in cells_a)]:
            old, new = cells_a.get(cell), cells_b.get(cell)
            if old is None or new is None or old != new:
                out.append(
                    Change(
                        f"factor {name}: {cell}",
                        None if old is None else _text(old),
                        None if new is None else _text(new),
                    )
                )
    kept_a = [n for n in factors_a if n in factors_b]
    kept_b = [n for n in factors_b if n in factors_a]
    if kept_a != kept_b:
        out.append(Change("factor order", ", ".join(kept_a), ", ".join(kept_b)))
    _derived_tables(a, b, out)
    return out


def _value_cells(table: ValueTable | None) -> dict[str, Any]:
    """A derived value's table as {row label: value}: "origin=SHA, destination=PEK", "default"."""
    if table is None:
        return {}
    cells = {
        ", ".join(f"{k}={v}" for k, v in zip(table.keys, key, strict=True)): value
        for key, value in table.rows.items()
    }
    if table.default is not None:
        cells["default"] = table.default
    return cells


def _value_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else key_text(value)


def _derived_tables(a: Edition, b: Edition, out: list[Change]) -> None:
    """The cells of the tables derived values are looked up in (the document names only
    their files)."""
    tables_a = {d.spec.name: d.table for d in a.derived if d.table is not None}
    tables_b = {d.spec.name: d.table for d in b.derived if d.table is not None}
    for name in [*tables_a, *(n for n in tables_b if n not in tables_a)]:
        cells_a, cells_b = _value_cells(tables_a.get(name)), _value_cells(tables_b.get(name))
        for cell in [*cells_a, *(c for c in cells_b if c not in cells_a)]:
            old, new = cells_a.get(cell), cells_b.get(cell)
            # by value and type: 1.0 and 1.00 are the same weight, true is not 1
            if old is None or new is None or (type(old), old) != (type(new), new):
                out.append(
                    Change(
                        f"derived {name}: {cell}",
                        None if old is None else _value_text(old),
                        None if new is None else _value_text(new),
                    )
                )
