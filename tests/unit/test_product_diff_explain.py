"""`products diff` names exactly what changed between editions; `products explain` shows
the worksheet of one risk."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_service.cli import main
from pricing.diff import diff_editions
from pricing.explain import as_text, choose_edition, worksheet
from pricing.loader import load_product

PRODUCTS = Path(__file__).resolve().parents[2] / "products"
RISK = {
    "carrier": "MU",
    "flight_number": "MU5101",
    "origin": "SHA",
    "destination": "PEK",
    "scheduled_departure": "2027-07-15T08:00:00+08:00",
}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The products, plus a flight_delay edition 2026-12 with a handful of changes."""
    shutil.copytree(PRODUCTS, tmp_path / "products")
    editions = tmp_path / "products" / "flight_delay" / "editions"
    new = editions / "2026-12"
    shutil.copytree(editions / "2026-11-25", new)
    edit(
        new / "edition.yaml",
        "effective_from: 2026-11-25T08:00:00+08:00",
        "effective_from: 2026-12-01T00:00:00+08:00",
    )
    edit(new / "edition.yaml", 'base: "14.00"', 'base: "15.00"')
    edit(
        new / "edition.yaml",
        "  - code: same_origin_and_destination\n    refuse_when: origin == destination\n"
        "    message: Origin and destination must differ.\n",
        "",
    )
    edit(new / "carrier.csv", "MU,1.00", "MU,1.10")
    edit(new / "carrier.csv", "GS,1.20", "GS,1.20\nJD,1.08")
    edit(new / "departure_hour.csv", "7,11,0.95", "7,11,0.97")
    # Reordering rules that are matched by code is no change; comments are none either.
    edit(new / "carrier.csv", "# Carrier factor", "# Carrier factor (reviewed)")
    return tmp_path / "products"


def test_the_diff_lists_exactly_the_changed_cells_and_rules(root: Path) -> None:
    product = load_product(root / "flight_delay", root)
    a, b = product.edition("2026-11-25"), product.edition("2026-12")
    assert a is not None and b is not None
    changes = {c.where: (c.old, c.new) for c in diff_editions(a, b)}
    assert changes == {
        "effective_from": ("2026-11-25T08:00:00+08:00", "2026-12-01T00:00:00+08:00"),
        "rating.base": ("14.00", "15.00"),
        "eligibility[code=same_origin_and_destination]": (
            '{"code": "same_origin_and_destination", "refuse_when": "origin == destination", '
            '"message": "Origin and destination must differ."}',
            None,
        ),
        "factor carrier: carrier=MU": ("1.00", "1.10"),
        "factor carrier: carrier=JD": (None, "1.08"),
        "factor departure_hour: departure_hour in [7, 11)": ("0.95", "0.97"),
    }
    assert diff_editions(a, a) == []


def test_the_diff_command_prints_and_writes_json(root: Path) -> None:
    runner = CliRunner()
    args = ["products", "diff", "flight_delay", "2026-11-25", "2026-12", "--path", str(root)]
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "flight_delay: 2026-11-25 -> 2026-12: 6 change(s)" in text.output
    assert "~ factor carrier: carrier=MU: 1.00 -> 1.10" in text.output
    assert "+ factor carrier: carrier=JD: 1.08" in text.output
    as_json = runner.invoke(main, [*args, "--json"])
    kinds = sorted(c["kind"] for c in json.loads(as_json.output))
    assert kinds == ["added", "changed", "changed", "changed", "changed", "removed"]
    missing = runner.invoke(main, [*args[:3], "2026-11-25", "2031-01", "--path", str(root)])
    assert missing.exit_code == 1
    editions = ", ".join(e.id for e in load_product(root / "flight_delay", root).editions)
    assert f"flight_delay has no edition 2031-01 (editions: {editions})" in missing.output


def test_explain_shows_every_step_with_its_table_row(root: Path, tmp_path: Path) -> None:
    product = load_product(root / "flight_delay", root)
    at = datetime(2026, 12, 2, tzinfo=UTC)
    edition = choose_edition(product, None, at)
    assert edition.id == "2026-12"
    sheet = worksheet(edition, RISK, at)
    assert sheet["premium"]["total"] == "22.90"
    text = as_text(sheet)
    assert "factor carrier" in text and "carrier.csv:4" in text and "factor=1.10" in text

    risk_file = tmp_path / "risk.json"
    risk_file.write_text(json.dumps(RISK))
    runner = CliRunner()
    base = ["products", "explain", "flight_delay", "--risk", str(risk_file), "--path", str(root)]
    answer = runner.invoke(main, [*base, "--edition", "2026-11-25", "--at", "2026-12-02T00:00:00Z"])
    assert answer.exit_code == 0, answer.output
    assert "total" in answer.output and "amount=19.10" in answer.output
    as_json = runner.invoke(main, [*base, "--at", "2026-12-02T00:00:00+00:00", "--json"])
    assert json.loads(as_json.output)["premium"]["total"] == "22.90"

    risk_file.write_text(json.dumps({**RISK, "origin": "S"}))
    bad = runner.invoke(main, base)
    assert bad.exit_code == 1 and "invalid risk" in bad.output and "origin" in bad.output
    risk_file.write_text("{not json")
    bad = runner.invoke(main, base)
    assert bad.exit_code == 1 and "risk.json:1: not JSON" in bad.output


def _pair(root: Path) -> tuple[object, object]:
    product = load_product(root / "flight_delay", root)
    return product.edition("2026-11-25"), product.edition("2026-12")


def test_the_diff_sees_duplicates_texts_and_ignores_reformatting(root: Path) -> None:
    new = root / "flight_delay" / "editions" / "2026-12"
    # Same bands written differently: no change.
    edit(new / "departure_hour.csv", "11,15,1.05", "11.0,15.00,1.05")
    # A second loading under the same name raises the premium: it must show.
    edit(
        new / "edition.yaml",
        "  loadings:\n",
        '  loadings:\n    - name: expenses\n      rate: "0.02"\n',
    )
    a, b = _pair(root)
    changes = [str(c) for c in diff_editions(a, b)]  # type: ignore[arg-type]
    assert not any("[11" in c for c in changes)
    assert "~ rating.loadings[0].rate: 0.05 -> 0.02" in changes, changes
    assert '+ rating.loadings[1]: {"name": "expenses", "rate": "0.05"}' in changes


def test_removing_a_factor_lists_its_cells_and_no_false_reordering(root: Path) -> None:
    new = root / "flight_delay" / "editions" / "2026-12"
    text = (new / "edition.yaml").read_text()
    start = text.index("    - name: origin_airport")
    end = text.index("    - name: departure_month")
    (new / "edition.yaml").write_text(text[:start] + text[end:])
    a, b = _pair(root)
    changes = {c.where: c for c in diff_editions(a, b)}  # type: ignore[arg-type]
    assert "factor order" not in changes
    removed = changes["factor origin_airport"]
    assert removed.kind == "removed" and '"origin=PEK": "1.05"' in (removed.old or "")
