"""The rating worksheet of one risk, for a terminal: every step from base rate to total,
with the table row each factor came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import engine
from .model import Edition, Product


def choose_edition(product: Product, edition_id: str | None, at: datetime) -> Edition:
    """The named edition, or the one in force at `at`."""
    if edition_id:
        return product.named_edition(edition_id)
    edition = product.edition_at(at)
    if edition is None:
        known = ", ".join(e.id for e in product.editions)
        raise LookupError(
            f"{product.code} has no edition in force at {at.isoformat()} (editions: {known})"
        )
    return edition


def worksheet(edition: Edition, risk: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The engine's worksheet for a risk given as JSON (raises InputErrors when invalid)."""
    priced = engine.price(edition, edition.inputs.parse(risk), at)
    sheet = dict(priced.worksheet)
    if priced.breakdown is not None:
        sheet["premium"] = {k: str(v) for k, v in priced.breakdown.parts().items()}
        sheet["premium"]["total"] = str(priced.breakdown.total)
    return sheet


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def as_text(sheet: dict[str, Any]) -> str:
    """The worksheet as aligned text."""
    lines = [f"edition   {sheet['edition']} ({sheet['content_hash'][:19]})"]
    lines.append(f"priced at {sheet['priced_at']}")
    lines.append("inputs")
    for name, value in sheet["inputs"].items():
        lines.append(f"  {name:<24} {_cell(value)}")
    if sheet.get("derived"):
        lines.append("derived")
        for name, value in sheet["derived"].items():
            lines.append(f"  {name:<24} {_cell(value)}")
    if sheet.get("refusals"):
        lines.append("REFUSED")
        for refusal in sheet["refusals"]:
            lines.append(f"  {refusal['code']}: {refusal['message']}")
        return "\n".join(lines)
    lines.append(f"{'step':<28} {'detail':<58} {'running':>14}")
    for step in sheet["steps"]:
        label = step["step"] + (f" {step['name']}" if step.get("name") else "")
        detail = ", ".join(
            f"{k}={_cell(v)}" for k, v in step.items() if k not in ("step", "name", "running")
        )
        running = step.get("running", "")
        lines.append(f"{label:<28} {detail:<58} {running:>14}")
    if "coverage" in sheet:
        lines.append(f"coverage  {sheet['coverage']['starts']} .. {sheet['coverage']['ends']}")
    return "\n".join(lines)
