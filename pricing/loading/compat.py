"""What new trigger types would break: the claim rules in force name a type or read a
field that changes, or a product that loads with the types in force would be refused with
the new ones (an enumeration value its rules compare with is gone, say)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import ProductInvalid
from ..model import Product
from .product import load_product, product_folders
from .triggers import TriggerTypes, breaking_changes


def trigger_uses(products: Iterable[Product]) -> dict[str, list[str]]:
    """Trigger type -> the editions ("product/edition") whose claim rules name it."""
    uses: dict[str, list[str]] = {}
    for product in products:
        for edition in product.editions:
            for trigger in sorted({rule.trigger for rule in edition.claims}):
                uses.setdefault(trigger, []).append(f"{product.code}/{edition.id}")
    return uses


def broken_by(
    root: Path,
    old: TriggerTypes,
    new: TriggerTypes,
    uses: Mapping[str, list[str]],
    codes: Iterable[str] | None = None,
) -> list[str]:
    """Why `new` may not replace `old`: the rules in force (`uses`) and the product folders
    under `root` (those named in `codes`, by default all) that load with `old`."""
    problems = breaking_changes(old, new, uses)
    wanted = None if codes is None else set(codes)
    for folder in product_folders(root):
        if wanted is not None and folder.name not in wanted:
            continue
        try:
            load_product(folder, root, new)
        except ProductInvalid as exc:
            try:
                load_product(folder, root, old)
            except ProductInvalid:
                continue  # its own files are at fault: refused on their own account
            problems += [f"product {folder.name} would be refused: {e}" for e in exc.errors]
    return problems
