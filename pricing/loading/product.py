"""A product folder (product.yaml, its editions, tests.yaml) and a folder of products."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ..errors import (
    ProductFileError,
    ProductInvalid,
)
from ..inputs import parse_datetime
from ..model import (
    POLICYHOLDER_RULES,
    DuplicateCover,
    Edition,
    Product,
    TestCase,
)
from ..source import Path_, parse_yaml, read_text
from .edition import load_edition, plain_json
from .reader import Collect, Reader


def load_tests(
    folder: Path, root: Path, product: str, editions: dict[str, Edition], out: Collect
) -> tuple[TestCase, ...]:
    path = folder / "tests.yaml"
    display = path.relative_to(root).as_posix()
    if not path.exists():
        out.add(
            ProductFileError(
                display, None, "", "every product needs test cases with expected premiums"
            )
        )
        return ()
    try:
        doc = parse_yaml(read_text(path, display), display)
    except ProductFileError as exc:
        out.add(exc)
        return ()
    r = Reader(doc, out)
    if not isinstance(doc.data, list) or not doc.data:
        r.fail((), "must be a non-empty list of test cases")
        return ()
    cases: list[TestCase] = []
    for i, _ in enumerate(doc.data):
        p: Path_ = (i,)
        case = r.mapping(
            p,
            {"name", "edition", "quoted_at", "risk", "expect"},
            {"name", "quoted_at", "risk", "expect"},
        )
        if case is None:
            continue
        edition = case.get("edition")
        if edition is not None and str(edition) not in editions:
            if (folder / "editions" / str(edition)).is_dir():
                continue  # the edition is refused itself: its own errors say why
            r.fail((*p, "edition"), f"unknown edition {edition!r}")
        try:
            quoted_at = parse_datetime(case.get("quoted_at"))
        except ValueError as exc:
            r.fail((*p, "quoted_at"), str(exc))
            continue
        expect = r.mapping((*p, "expect"), {"total", "net", "tax", "commission", "fees", "refused"})
        if expect is None:
            continue
        if ("refused" in expect) == ("total" in expect):
            r.fail(
                (*p, "expect"), "give either total (with optional parts) or refused: [reason codes]"
            )
            continue
        parsed: dict[str, Any] = {}
        if "refused" in expect:
            codes = expect["refused"]
            if not isinstance(codes, list) or not codes:
                r.fail((*p, "expect", "refused"), "must list the expected reason codes")
                continue
            parsed["refused"] = [str(c) for c in codes]
        else:
            for key in ("total", "net", "tax", "commission", "fees"):
                if key in expect:
                    value = r.decimal((*p, "expect", key))
                    if value is not None:
                        parsed[key] = value
            parts = [k for k in ("net", "tax", "commission", "fees") if k in parsed]
            if (
                len(parts) == 4
                and "total" in parsed
                and sum(parsed[k] for k in parts) != parsed["total"]
            ):
                r.fail(
                    (*p, "expect"),
                    f"parts do not sum: net + tax + commission + fees = "
                    f"{sum(parsed[k] for k in parts)}, total is {parsed['total']}",
                )
        risk = case["risk"]
        if not isinstance(risk, dict):
            r.fail((*p, "risk"), "must be a mapping")
            continue
        cases.append(
            TestCase(
                str(case["name"]),
                doc.line(p),
                None if edition is None else str(edition),
                quoted_at,
                plain_json(risk),
                parsed,
            )
        )
    return tuple(cases)


def load_product(folder: Path, root: Path) -> Product:
    """Load one product folder; raises ProductInvalid listing every error."""
    out = Collect()
    code = folder.name
    display = f"{code}/product.yaml"
    meta: dict[str, Any] = {}
    duplicate: DuplicateCover | None = None
    try:
        doc = parse_yaml(read_text(folder / "product.yaml", display), display)
        r = Reader(doc, out)
        meta = (
            r.mapping(
                (),
                {"code", "name", "name_zh", "description", "policyholder", "duplicate_cover"},
                {"code", "name", "policyholder"},
            )
            or {}
        )
        if meta.get("code") != code:
            r.fail(("code",), f"must equal the folder name {code!r}")
        if meta.get("policyholder") not in POLICYHOLDER_RULES:
            r.fail(("policyholder",), "must be required, optional or none")
        dup = r.mapping(("duplicate_cover",), {"subject", "per_insured"}, {"subject"})
        if dup is not None:
            subject = dup.get("subject")
            if not isinstance(subject, list) or not subject:
                r.fail(
                    ("duplicate_cover", "subject"),
                    "must list the inputs (or external_ref) that identify the insured thing",
                )
            else:
                duplicate = DuplicateCover(
                    tuple(map(str, subject)), bool(dup.get("per_insured", False))
                )
                if duplicate.per_insured and meta.get("policyholder") != "required":
                    r.fail(("duplicate_cover", "per_insured"), "needs policyholder: required")
    except ProductFileError as exc:
        out.add(exc)
    editions_dir = folder / "editions"
    editions: list[Edition] = []
    if not editions_dir.is_dir():
        out.add(ProductFileError(f"{code}/editions", None, "", "no editions folder"))
    else:
        for ed_folder in sorted(p for p in editions_dir.iterdir() if p.is_dir()):
            ed = load_edition(code, ed_folder, root, out)
            if ed is not None:
                editions.append(ed)
    editions.sort(key=lambda e: e.effective_from)
    for a, b in pairwise(editions):
        if a.effective_from == b.effective_from:
            out.add(
                ProductFileError(
                    f"{code}/editions/{b.id}/edition.yaml",
                    None,
                    "effective_from",
                    f"same effective_from as edition {a.id}",
                )
            )
    if duplicate is not None:
        for ed in editions:
            names = {s.name for s in ed.inputs.specs} | {"external_ref"}
            for s in duplicate.subject:
                if s not in names:
                    out.add(
                        ProductFileError(
                            display,
                            None,
                            "duplicate_cover.subject",
                            f"{s!r} is not an input of edition {ed.id}",
                        )
                    )
    if not editions and not out.errors:
        out.add(ProductFileError(f"{code}/editions", None, "", "no editions"))
    tests = load_tests(folder, root, code, {e.id: e for e in editions}, out)
    if out.errors:
        raise ProductInvalid(code, out.errors)
    return Product(
        code=code,
        name=str(meta.get("name", code)),
        name_zh=str(meta.get("name_zh", "")),
        description=str(meta.get("description", "")).strip(),
        policyholder=str(meta["policyholder"]),
        duplicate_cover=duplicate,
        editions=tuple(editions),
        tests=tests,
        tests_file=f"{code}/tests.yaml",
    )


@dataclass
class Catalog:
    """Every product found under a folder; the ones refused, with their errors."""

    products: dict[str, Product] = field(default_factory=dict)
    refused: dict[str, ProductInvalid] = field(default_factory=dict)


def product_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "product.yaml").exists())


def load_catalog(root: Path, on_progress: Callable[[str], None] | None = None) -> Catalog:
    catalog = Catalog()
    for folder in product_folders(root):
        if on_progress:
            on_progress(folder.name)
        try:
            catalog.products[folder.name] = load_product(folder, root)
        except ProductInvalid as exc:
            catalog.refused[folder.name] = exc
    return catalog
