"""Breaking a product the way an actuary might: copy a product folder from products/ into a
test's tmp folder and edit the text of its newest edition.yaml. Tests choose the product by
what its newest edition has (a constant payout, a fee, ...), never by its name."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pricing.errors import ProductInvalid
from pricing.loader import load_product, product_folders
from pricing.model import ClaimRule, Edition, Product

PRODUCTS = Path(__file__).resolve().parents[1] / "products"
CODES = [p.name for p in product_folders(PRODUCTS)]


def newest(code: str) -> Edition:
    return load_product(PRODUCTS / code, PRODUCTS).editions[-1]


def first_product(what: str, has: Callable[[Edition], bool]) -> str:
    """The first product whose newest edition `has` it (the test is skipped if none has)."""
    for code in CODES:
        if has(newest(code)):
            return code
    pytest.skip(f"no product's newest edition has {what}")


def newest_edition(folder: Path) -> Path:
    product = load_product(folder, folder.parent)
    return folder / "editions" / product.editions[-1].id / "edition.yaml"


def copy(tmp_path: Path, code: str) -> tuple[Path, Path]:
    """A copy of product `code` under tmp_path/products: (that root, its newest edition.yaml)."""
    root = tmp_path / "products"
    shutil.copytree(PRODUCTS / code, root / code)
    if (PRODUCTS / "triggers").is_dir():  # trigger types written as files beside the products
        shutil.copytree(PRODUCTS / "triggers", root / "triggers")
    return root, newest_edition(root / code)


def section_lines(lines: list[str], section: str) -> range:
    """The lines of a top-level section, from its key to the next top-level key."""
    start = lines.index(f"{section}:")
    end = start + 1
    while end < len(lines) and (not lines[end] or lines[end].startswith((" ", "#", "-"))):
        end += 1
    return range(start, end)


def replace_in_section(path: Path, section: str, key: str, change: str, nth: int = 0) -> int:
    """Rewrite the `nth` `key:` line of a top-level section with `change` (a format string
    of the old value); returns its line number."""
    lines = path.read_text().splitlines()
    found = 0
    for i in section_lines(lines, section):
        match = re.match(rf"^(\s*-?\s*){key}: (.*)$", lines[i])
        if match:
            if found == nth:
                lines[i] = f"{match.group(1)}{key}: {change.format(match.group(2))}"
                path.write_text("\n".join(lines) + "\n")
                return i + 1
            found += 1
    raise AssertionError(f"no {key} #{nth} under {section} in {path}")


def column_of(path: Path, line: int, needle: str) -> int:
    """The column (from 1) where `needle` last starts on `line` of the file."""
    return path.read_text().splitlines()[line - 1].rindex(needle) + 1


def line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def quoted(text: str) -> str:
    """`text` as a single-quoted YAML scalar: it stands in the file as written."""
    return "'" + text.replace("'", "''") + "'"


def append_to_section(path: Path, section: str, item: dict[str, str]) -> int:
    """Add a list item (key -> YAML text) at the end of a top-level list section, indented
    as its items are; returns the line of its first key."""
    lines = path.read_text().splitlines()
    span = section_lines(lines, section)
    indent = next(m.group(1) for i in span if (m := re.match(r"^(\s*)- ", lines[i])))
    block = [
        f"{indent}{'- ' if n == 0 else '  '}{key}: {value}"
        for n, (key, value) in enumerate(item.items())
    ]
    end = span.stop
    while lines[end - 1].startswith("#") or not lines[end - 1].strip():
        end -= 1  # before the comments that open the next section
    path.write_text("\n".join([*lines[:end], *block, *lines[end:]]) + "\n")
    return end + 1


def remove_section(path: Path, section: str) -> None:
    lines = path.read_text().splitlines()
    span = section_lines(lines, section)
    path.write_text("\n".join([*lines[: span.start], *lines[span.stop :]]) + "\n")


def rule_item(rule: ClaimRule, code: str, when: str, payout: str | None = None) -> dict[str, str]:
    """A claim rule of the same trigger and matching as `rule`, as YAML text."""
    ways = ", ".join("[" + ", ".join(way) + "]" for way in rule.match)
    item = {"code": code, "trigger": rule.trigger, "match": f"[{ways}]", "when": quoted(when)}
    if payout is not None:
        item["payout"] = quoted(payout)
    else:
        item["refund"] = "full"
    return item


def refused(root: Path, code: str) -> list[str]:
    with pytest.raises(ProductInvalid) as exc:
        load_product(root / code, root)
    return [str(e) for e in exc.value.errors]


def loaded(root: Path, code: str) -> Product:
    return load_product(root / code, root)
