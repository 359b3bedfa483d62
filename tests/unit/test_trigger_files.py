"""Trigger types are files beside the products (triggers/<name>.yaml): each shipped one
loads, a broken one is refused with its file and line (and so are the products whose rules
name it), and a change that would break the rules in force is found before it is used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pricing.errors import ProductInvalid
from pricing.loader import load_catalog, load_product, load_trigger_types, trigger_files
from pricing.loading.triggers import breaking_changes
from tests.edition_files import PRODUCTS

SHIPPED = load_trigger_types(PRODUCTS)


def test_every_shipped_trigger_file_loads() -> None:
    assert not SHIPPED.refused
    assert sorted(SHIPPED.types) == sorted(p.stem for p in trigger_files(PRODUCTS))
    # and every trigger type a shipped product reacts to is one of them
    for product in load_catalog(PRODUCTS).products.values():
        for edition in product.editions:
            assert {rule.trigger for rule in edition.claims} <= set(SHIPPED.types)


def _used_type() -> tuple[str, str]:
    """A trigger type a product's claim rules name, and that product."""
    for product in load_catalog(PRODUCTS).products.values():
        for rule in product.editions[-1].claims:
            return rule.trigger, product.code
    raise AssertionError("no shipped product has claim rules")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dest = tmp_path / "products"
    shutil.copytree(PRODUCTS, dest)
    return dest


def _rewrite(path: Path, old: str, new: str) -> int:
    """Replace the first line containing `old`; returns its line number."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if old in line:
            lines[i] = line.replace(old, new)
            path.write_text("\n".join(lines) + "\n")
            return i + 1
    raise AssertionError(f"{old!r} not in {path}")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("type: datetime", "type: timestamp", "unknown type 'timestamp'"),
        ("subject:", "subject: [no_such_field]\nnot_subject:", "unknown key 'not_subject'"),
        ("event_time:", "event_time: observed_at + 1\nold_event_time:", "unknown key"),
        ("name:", "name: other.name\nold_name:", "unknown key 'old_name'"),
    ],
)
def test_a_broken_trigger_file_is_refused_with_file_and_line(
    root: Path, old: str, new: str, message: str
) -> None:
    name, code = _used_type()
    path = root / "triggers" / f"{name}.yaml"
    line = _rewrite(path, old, new)
    loaded = load_trigger_types(root)
    assert name in loaded.refused and name not in loaded.types
    errors = [str(e) for e in loaded.refused[name]]
    assert any(e.startswith(f"triggers/{name}.yaml:") for e in errors), errors
    assert any(message in e for e in errors), errors
    assert any(f"triggers/{name}.yaml:{line}" in e for e in errors), (line, errors)
    # the products whose rules name it are refused too, saying why
    with pytest.raises(ProductInvalid) as exc:
        load_product(root / code, root)
    assert f"trigger type {name!r} is refused" in str(exc.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("subject:", "subject: [nobody]\nx_subject:", "must list fields of this trigger type"),
        ("event_time:", "event_time: 1 + 1\nx_event_time:", "date-time"),
    ],
)
def test_subjects_and_event_time_are_checked(root: Path, old: str, new: str, message: str) -> None:
    name, _ = _used_type()
    path = root / "triggers" / f"{name}.yaml"
    text = path.read_text()
    # drop the old key so that the new one is the only one (YAML refuses duplicates)
    key = old.rstrip(":")
    kept = [ln for ln in text.splitlines() if not ln.startswith(f"{key}:")]
    kept += [new.split("\n")[0]]
    path.write_text("\n".join(kept) + "\n")
    errors = [str(e) for e in load_trigger_types(root).refused.get(name, ())]
    assert any(message in e and f"triggers/{name}.yaml:{len(kept)}" in e for e in errors), errors


def test_a_change_that_breaks_the_rules_in_force_is_found(root: Path) -> None:
    name, code = _used_type()
    uses = {name: [f"{code}/x"]}
    before = load_trigger_types(root)
    spec = before.types[name].fields.specs[-1]
    path = root / "triggers" / f"{name}.yaml"
    text = path.read_text()

    # a new optional field breaks nothing
    path.write_text(
        text.replace("fields:\n", "fields:\n  remark:\n    type: string\n    required: false\n", 1)
    )
    assert breaking_changes(before, load_trigger_types(root), uses) == []

    # a field of another type does
    other = "integer" if spec.type != "integer" else "string"
    changed = text.replace(
        f"  {spec.name}:\n    type: {spec.type}", f"  {spec.name}:\n    type: {other}", 1
    )
    assert changed != text
    path.write_text(changed)
    [problem] = breaking_changes(before, load_trigger_types(root), uses)
    assert f"field {spec.name!r} changes type" in problem and f"{code}/x" in problem

    # so does a type that is gone, but not one no rule names
    path.unlink()
    [problem] = breaking_changes(before, load_trigger_types(root), uses)
    assert f"unknown trigger type {name!r}" in problem
    assert breaking_changes(before, load_trigger_types(root), {}) == []


def test_a_shipped_product_owes_nothing_to_code() -> None:
    """At least one product, with the trigger types it reacts to, is files alone: no
    source file of the service or the pricing library names either."""
    root = PRODUCTS.parent
    sources = [
        p.read_text(encoding="utf-8")
        for package in ("policy_service", "pricing")
        for p in (root / package).rglob("*")
        if p.is_file() and p.suffix in (".py", ".html", ".js", ".css", ".txt")
    ]
    free = []
    for product in load_catalog(PRODUCTS).products.values():
        names = {product.code} | {r.trigger for e in product.editions for r in e.claims}
        if not any(name in text for name in names for text in sources):
            free.append(product.code)
    assert free, "every shipped product or its trigger type is named in the code"


def test_validate_shows_the_trigger_types_and_refuses_a_broken_one(root: Path) -> None:
    from click.testing import CliRunner

    from policy_service.cli import main

    answer = CliRunner().invoke(main, ["products", "validate", str(root)])
    assert answer.exit_code == 0, answer.output
    for name in SHIPPED.types:
        assert f"ok      trigger {name}:" in answer.output
    name, code = _used_type()
    line = _rewrite(root / "triggers" / f"{name}.yaml", "type: datetime", "type: timestamp")
    answer = CliRunner().invoke(main, ["products", "validate", str(root)])
    assert answer.exit_code == 1
    assert f"REFUSED trigger {name}:\n  triggers/{name}.yaml:{line} " in answer.output
    assert f"REFUSED {code}:" in answer.output
