"""A product folder (product.yaml, its editions, tests.yaml) and a folder of products."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from .. import identifiers
from ..errors import (
    ProductFileError,
    ProductInvalid,
)
from ..model import (
    POLICYHOLDER_RULES,
    DuplicateCover,
    Edition,
    Endorsements,
    Product,
)
from ..source import parse_yaml, read_text
from .edition import load_edition
from .endorsements import read_endorsements
from .reader import MISSING, Collect, Reader
from .testcases import load_tests
from .triggers import TRIGGERS_FOLDER, TriggerTypes, load_trigger_types


def load_product(folder: Path, root: Path, triggers: TriggerTypes | None = None) -> Product:
    """Load one product folder; raises ProductInvalid listing every error. Its claim rules
    read `triggers`, by default the trigger types beside it (root/triggers/)."""
    if triggers is None:
        triggers = load_trigger_types(root)
    out = Collect()
    code = folder.name
    display = f"{code}/product.yaml"
    meta: dict[str, Any] = {}
    duplicate: DuplicateCover | None = None
    r: Reader | None = None
    try:
        doc = parse_yaml(read_text(folder / "product.yaml", display), display)
        r = Reader(doc, out)
        meta = (
            r.mapping(
                (),
                {
                    "code",
                    "name",
                    "name_zh",
                    "description",
                    "policyholder",
                    "duplicate_cover",
                    "endorsements",
                    "description_zh",
                    "messages_zh",
                    "identifiers",
                },
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
            ed = load_edition(code, ed_folder, root, out, triggers)
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
    endorsements = None
    messages_zh: dict[str, str] = {}
    if r is not None and editions:
        endorsements = read_endorsements(r, editions, str(meta.get("policyholder")))
        messages_zh = _messages_zh(r, editions, endorsements)
    # checked against the editions only once they all load (else: noise about inputs)
    named = _identifiers(r, editions if not out.errors else None) if r is not None else ()
    tests = load_tests(folder, root, {e.id: e for e in editions}, triggers, out)
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
        endorsements=endorsements,
        description_zh=str(meta.get("description_zh", "")).strip(),
        messages_zh=messages_zh,
        identifiers=named,
        file_warnings=tuple(w for w in out.warnings if w.file == display),
    )


def _identifiers(r: Reader, editions: list[Edition] | None) -> tuple[str, ...]:
    """`identifiers:`, the inputs that name the insured thing (pricing/identifiers.py)."""
    raw = r.at(("identifiers",))
    if raw is MISSING or raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        r.fail(("identifiers",), "must list input names, e.g. [order_id]")
        return ()
    for problem in identifiers.problems(raw, editions) if editions is not None else ():
        r.fail(("identifiers",), problem)
    return tuple(raw)


def _messages_zh(
    r: Reader, editions: list[Edition], endorsements: Endorsements | None
) -> dict[str, str]:
    """`messages_zh`: a refusal reason's Chinese message, by its code (an eligibility
    code of an edition, or an endorsement refusal)."""
    raw = r.at(("messages_zh",))
    if raw is MISSING or raw is None:
        return {}
    if not isinstance(raw, dict):
        r.fail(("messages_zh",), "must map reason codes to their messages in Chinese")
        return {}
    known = _known_codes(editions, endorsements)
    out = {}
    for code, text in raw.items():
        if code not in known:
            # a warning: the edition that had the code may have left the folder
            r.warn(
                ("messages_zh", code), f"no refusal has code {code!r}; one of: {', '.join(known)}"
            )
        if not isinstance(text, str) or not text.strip():
            r.fail(("messages_zh", code), "must be the message in Chinese")
        else:
            out[str(code)] = text.strip()
    return out


def _known_codes(editions: list[Edition], endorsements: Endorsements | None) -> list[str]:
    codes = {rule.code for e in editions for rule in e.eligibility}
    codes |= {rule.code for rule in (endorsements.refuse if endorsements else ())}
    return sorted(codes)


@dataclass
class Catalog:
    """Every product found under a folder; the ones refused, with their errors; the
    trigger types beside them."""

    products: dict[str, Product] = field(default_factory=dict)
    refused: dict[str, ProductInvalid] = field(default_factory=dict)
    triggers: TriggerTypes = field(default_factory=TriggerTypes)


def product_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and p.name != TRIGGERS_FOLDER and (p / "product.yaml").exists()
    )


def load_catalog(root: Path, on_progress: Callable[[str], None] | None = None) -> Catalog:
    catalog = Catalog(triggers=load_trigger_types(root))
    for folder in product_folders(root):
        if on_progress:
            on_progress(folder.name)
        try:
            catalog.products[folder.name] = load_product(folder, root, catalog.triggers)
        except ProductInvalid as exc:
            catalog.refused[folder.name] = exc
    return catalog
