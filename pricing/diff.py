"""A semantic diff of two editions: what an actuary changed, not which lines of text moved.

The edition document is compared as data (rules in lists are matched by their `code` or
`name`, so reordering is no change), and every rating table is compared cell by cell
(a row is its key, or its band; the default counts as a cell).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .model import Edition
from .tables import BandTable, ExactTable, Table

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


def _text(value: Any) -> str:
    return str(value)  # decimals keep the places the file gave them


def _same(a: Any, b: Any) -> bool:
    # "14.00" and 14 are the same rate to an actuary.
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return a == b


def _key_of(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ("code", "name"):
            if isinstance(item.get(key), str):
                return f"{key}={item[key]}"
    return None


def _walk(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key in _IGNORED or (path == "" and key == "tests"):
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
        if all(keys_a) and all(keys_b) and len(set(keys_a)) == len(a):
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
        if len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _walk(x, y, f"{path}[{i}]", out)
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
            cells[f"{table.key} in [{_text(lo)}, {_text(hi)})"] = hit.value
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
        if name not in factors_b:
            out.append(Change(f"factor {name}", "present", None))
            continue
        if name not in factors_a:
            out.append(Change(f"factor {name}", None, "added"))
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
    if list(factors_a) != [n for n in factors_b if n in factors_a] + [
        n for n in factors_a if n not in factors_b
    ]:
        out.append(Change("factor order", ", ".join(factors_a), ", ".join(factors_b)))
    return out
