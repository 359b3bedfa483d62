"""Trigger types from files: `<products>/triggers/<name>.yaml`, one per kind of fact.

A trigger type is shared by data providers (who post it) and every product whose claim
rules react to it, so it lives beside the products, not inside one. A file that cannot be
used is refused with its file and line; the products whose rules name it are then refused
too, each error saying why.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from .. import typecheck
from ..errors import ProductFileError
from ..inputs import InputSet
from ..source import parse_yaml, read_text
from ..triggers import TriggerType
from ..typecheck import T_DATETIME
from .inputs import input_spec
from .reader import MISSING, Collect, Reader

TRIGGERS_FOLDER = "triggers"

_KEYS = {"name", "description", "fields", "subject", "evidence", "event_time"}
#: dotted lower-case words: flight.status, weather.rainfall
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class TriggerTypes:
    """The trigger types found beside the products, and the files refused with why."""

    types: Mapping[str, TriggerType] = field(default_factory=dict)
    refused: Mapping[str, tuple[ProductFileError, ...]] = field(default_factory=dict)
    #: name -> sha256 of its file, to tell a changed type from the same one
    hashes: Mapping[str, str] = field(default_factory=dict)
    #: name -> the file's text (what a publication records)
    texts: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> TriggerType | None:
        return self.types.get(name)

    def unknown(self, name: str) -> str:
        """Why a claim rule may not name `name`."""
        if name in self.refused:
            first = self.refused[name][0]
            return f"trigger type {name!r} is refused: {first}"
        known = ", ".join(sorted(self.types)) or "none: add triggers/<name>.yaml"
        return f"unknown trigger type {name!r} (known: {known})"


def trigger_files(root: Path) -> list[Path]:
    folder = root / TRIGGERS_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".yaml")


def load_trigger_types(root: Path) -> TriggerTypes:
    """The trigger files beside the products, each refused or loaded on its own."""
    texts: dict[str, str] = {}
    unreadable: dict[str, tuple[ProductFileError, ...]] = {}
    for path in trigger_files(root):
        try:
            texts[path.stem] = read_text(path, f"{TRIGGERS_FOLDER}/{path.name}")
        except ProductFileError as exc:
            unreadable[path.stem] = (exc,)
    loaded = trigger_types_from(texts)
    return TriggerTypes(loaded.types, {**loaded.refused, **unreadable}, loaded.hashes, loaded.texts)


def trigger_types_from(texts: Mapping[str, str]) -> TriggerTypes:
    """Trigger types from the texts of their files (name -> text), e.g. as published."""
    types: dict[str, TriggerType] = {}
    refused: dict[str, tuple[ProductFileError, ...]] = {}
    hashes: dict[str, str] = {}
    for name, text in sorted(texts.items()):
        out = Collect()
        try:
            trigger = parse_trigger_type(text, name, f"{TRIGGERS_FOLDER}/{name}.yaml", out)
        except ProductFileError as exc:
            out.add(exc)
            trigger = None
        if trigger is None or out.errors:
            refused[name] = tuple(out.errors)
            continue
        types[name] = trigger
        hashes[name] = content_hash(text)
    return TriggerTypes(types, refused, hashes, dict(texts))


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_trigger_type(text: str, name: str, display: str, out: Collect) -> TriggerType | None:
    """One trigger file, every error collected in `out`; None when refused."""
    doc = parse_yaml(text, display)
    r = Reader(doc, out)
    before = len(out.errors)
    top = r.mapping((), _KEYS, {"name", "description", "fields", "subject"})
    if top is None:
        r.fail((), "must be a mapping with name, description, fields and subject")
        return None
    if top.get("name") != name:
        r.fail(("name",), f"must equal the file's name {name!r}")
    if not _NAME.match(name):
        r.fail(("name",), "must be dotted lower-case words, e.g. weather.rainfall")
    description = " ".join(r.text(("description",)).split())
    fields_raw = top.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        r.fail(("fields",), "must map each field name to its declaration (as product inputs)")
        fields_raw = {}
    specs = []
    for field_name in fields_raw:
        if field_name == "observed_at":
            r.fail(("fields", field_name), "observed_at is given by the report itself")
            continue
        spec = input_spec(r, ("fields", field_name), str(field_name), currency=None)
        if spec is not None:
            specs.append(spec)
    names = {s.name for s in specs}
    subjects = _subjects(r, names)
    evidence = r.text(("evidence",), required=False) or None
    if evidence is not None and evidence not in names:
        r.fail(("evidence",), f"must be one of the fields: {', '.join(sorted(names))}")
    event_time = "observed_at"
    if r.at(("event_time",)) not in (MISSING, None):
        scope = typecheck.scope_of(specs, observed_at=T_DATETIME)
        expr = r.expression(("event_time",), scope, UTC, typecheck.DATETIME)
        event_time = expr.source if expr is not None else event_time
    if len(out.errors) > before:
        return None
    return TriggerType(
        name,
        description,
        InputSet(tuple(specs)),
        subjects,
        evidence_field=evidence,
        event_time_source=event_time,
    )


def _subjects(r: Reader, names: set[str]) -> tuple[tuple[str, ...], ...]:
    """`subject: [a, b]` (one way of naming what the fact is about) or a list of such lists
    (a report must complete at least one way)."""
    raw = r.at(("subject",))
    ways = raw if isinstance(raw, list) and raw else []
    if ways and not all(isinstance(w, list) for w in ways):
        ways = [ways]
    out: list[tuple[str, ...]] = []
    for i, way in enumerate(ways):
        way_names = tuple(map(str, way))
        unknown = [n for n in way_names if n not in names]
        if not way_names or unknown:
            r.fail(("subject", i), f"must list fields of this trigger type, not {unknown}")
            continue
        out.append(way_names)
    if not ways:
        r.fail(("subject",), "must list the fields that name what the fact is about")
    return tuple(out)


def breaking_changes(
    old: TriggerTypes, new: TriggerTypes, uses: Mapping[str, list[str]]
) -> list[str]:
    """What a new set of trigger files would break for the rules in force: `uses` maps a
    trigger type to the editions whose claim rules name it ("product/edition"). A used type
    may gain fields and change descriptions; it may not go, nor lose or retype a field
    (a policy's subject keys and its rules' comparisons were made with those types)."""
    problems: list[str] = []
    for name, editions in sorted(uses.items()):
        was, now = old.get(name), new.get(name)
        if was is None:
            continue
        users = ", ".join(sorted(editions))
        if now is None:
            why = new.unknown(name)
            problems.append(f"{why}, but the claim rules of {users} name it")
            continue
        for spec in was.fields.specs:
            after = now.fields.by_name.get(spec.name)
            if after is None:
                problems.append(
                    f"{name}: field {spec.name!r} removed, but the claim rules of {users} "
                    "read this type"
                )
            elif (after.type, after.currency) != (spec.type, spec.currency):
                problems.append(
                    f"{name}: field {spec.name!r} changes type from {spec.type} to "
                    f"{after.type}, but the claim rules of {users} read this type"
                )
    return problems
