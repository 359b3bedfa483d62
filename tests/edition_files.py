"""The product folders as tests find them, and new return_shipping editions written the way
an actuary would: copy the one in force and change a few lines."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

from pricing.loader import load_product, load_trigger_types
from pricing.triggers import TriggerType

LIVE = "2026-11-25"

#: the project's product folders: tests read the products from here instead of naming them
PRODUCTS = Path(__file__).resolve().parents[1] / "products"


def trigger_types(products: Path = PRODUCTS) -> dict[str, TriggerType]:
    """The trigger types beside the products (triggers/*.yaml), by name."""
    return dict(load_trigger_types(products).types)


def product_codes(products: Path = PRODUCTS) -> list[str]:
    """Every product folder (one with a product.yaml), by name."""
    return sorted(p.name for p in products.iterdir() if (p / "product.yaml").exists())


def drop_editions_after(products: Path, when: datetime) -> None:
    """Remove the editions that come into force after `when`, and the test cases that name
    them: the files as they stood then."""
    for folder in (products / code for code in product_codes(products)):
        later = [e.id for e in load_product(folder, products).editions if e.effective_from > when]
        for edition_id in later:
            shutil.rmtree(folder / "editions" / edition_id)
        tests = folder / "tests.yaml"
        cases = re.split(r"(?m)^(?=- name: )", tests.read_text())
        kept = [c for c in cases if not any(f"\n  edition: {e}\n" in c for e in later)]
        tests.write_text("".join(kept))


def write_shipping_edition(
    products: Path,
    edition: str,
    effective_from: datetime | str,
    *,
    base: str = "0.80",
    apparel: str = "2.20",
    cap: str = "25.00",
    refund_before_delivery: str = "full",
    source: str = LIVE,
) -> Path:
    """Copy edition `source` of return_shipping to `edition` with other dates and rates.

    `cap` is the most a return pickup pays (benefit limit and payout expression);
    `refund_before_delivery` the refund of a cancellation before delivery (full or none).
    """
    src = products / "return_shipping" / "editions" / source
    dest = src.parent / edition
    shutil.copytree(src, dest)
    when = effective_from if isinstance(effective_from, str) else effective_from.isoformat()
    yaml_path = dest / "edition.yaml"
    text = yaml_path.read_text()
    text, found = re.subn(r"(?m)^effective_from: .*$", f"effective_from: {when}", text)
    assert found == 1
    for old, new in (
        ('base: "0.80"', f'base: "{base}"'),
        ('limit: "25.00"', f'limit: "{cap}"'),
        ("min(shipping_cost, 25.00)", f"min(shipping_cost, {cap})"),
        ('auto_approve_up_to: "25.00"', f'auto_approve_up_to: "{cap}"'),
        (
            "    refund: full\n    description: Full refund while",
            f"    refund: {refund_before_delivery}\n    description: Full refund while",
        ),
    ):
        assert old in text, old
        text = text.replace(old, new)
    # the example risk must stay sellable on the edition's first day
    year = int(when[:4])
    text = text.replace(
        'delivery_date: "2030-06-20"', f'delivery_date: "{max(year + 1, 2030)}-06-20"'
    )
    yaml_path.write_text(text)
    table = dest / "category.csv"
    assert "apparel,2.20" in table.read_text()
    table.write_text(table.read_text().replace("apparel,2.20", f"apparel,{apparel}"))
    return dest
