"""Writing the draft edition `calibrate` proposes: a copy of its source with the fitted
base and tables and a later effective_from, not sold until someone publishes it."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .loader import load_product
from .model import Edition
from .tables import BandTable


def write_edition(
    source: Edition,
    products_root: Path,
    new_id: str,
    base: Decimal,
    tables: dict[str, dict[str, Decimal]],
    effective_from: datetime,
    note: str,
    limits: tuple[Decimal, Decimal] | None = None,
) -> Path:
    """A copy of the source edition's folder with the new base, factor tables, effective
    date and (when given) minimum and maximum premium; refuses to overwrite an edition."""
    src = products_root / source.product / "editions" / source.id
    dest = products_root / source.product / "editions" / new_id
    if dest.exists():
        raise FileExistsError(f"{dest} exists: editions never change; choose another --out")
    shutil.copytree(src, dest)
    yaml_path = dest / "edition.yaml"
    text = yaml_path.read_text()
    text = re.sub(
        r"(?m)^effective_from: .*$", f"effective_from: {effective_from.isoformat()}", text
    )
    text = re.sub(r'(?m)^(  base: )"[^"]*"', rf'\g<1>"{base}"', text)
    if limits is not None:
        text = re.sub(r'(?m)^(  minimum: )"[^"]*"', rf'\g<1>"{limits[0]}"', text)
        text = re.sub(r'(?m)^(  maximum: )"[^"]*"', rf'\g<1>"{limits[1]}"', text)
    header = "".join(f"# {line}\n" for line in note.splitlines())
    text = header + text
    for factor in source.rating.factors:
        table = factor.table
        new = tables[factor.name]
        csv_path = dest / Path(table.file).name
        lines = [f"# Calibrated: {note.splitlines()[0]}"]
        if isinstance(table, BandTable):
            lines.append("from,to,factor")
            for lo, hi in zip(table.lowers, table.uppers, strict=True):
                lo_text = "" if lo.is_infinite() else str(lo)
                hi_text = "" if hi.is_infinite() else str(hi)
                lines.append(f"{lo_text},{hi_text},{new[f'[{lo}, {hi})']}")
        else:
            lines.append(",".join((*table.keys, "factor")))
            # levels with no row keep the table's default: it is the current factor of
            # every level the data did not see (new levels seen have a row of their own)
            for label, value in sorted(new.items(), key=lambda kv: _sort_key(kv[0])):
                lines.append(f"{label},{value}")
        csv_path.write_text("\n".join(lines) + "\n")
    yaml_path.write_text(text)
    return dest


def _sort_key(label: str) -> tuple[int, Any]:
    return (0, int(label)) if label.lstrip("-").isdigit() else (1, label)


def load_draft(products_root: Path, edition: Edition, new_id: str) -> Edition:
    product = load_product(products_root / edition.product, products_root)
    draft = product.edition(new_id)
    assert draft is not None
    return draft
