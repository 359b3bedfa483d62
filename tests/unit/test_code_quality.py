"""The house rules are checked by the suite, not by memory: ruff (lint and format), mypy,
the layer contracts (import-linter, in pyproject.toml), module sizes, and who may open a
transaction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"], ["lint-imports"]],
    ids=["ruff-check", "ruff-format", "mypy", "import-linter"],
)
def test_clean(command: list[str]) -> None:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: longer than a sitting's reading only where the length is a list of declarations
LONGEST = 450
LONG_BY_NATURE = {"policy_service/adapters/tables.py"}


def test_every_module_reads_in_one_sitting() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in ("policy_service", "pricing", "bench")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST
    }
    assert set(long) <= LONG_BY_NATURE, long


def test_only_the_services_open_transactions() -> None:
    """API, console, CLI and worker call use cases; the unit of work opens and commits."""
    callers = [
        *(ROOT / "policy_service" / "api").rglob("*.py"),
        *(ROOT / "policy_service" / "ops").rglob("*.py"),
        *(ROOT / "policy_service" / "cli").rglob("*.py"),
        ROOT / "policy_service" / "worker.py",
    ]
    opening = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in callers
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(word in line for word in ("engine.begin(", "engine.connect(", ".write()", ".read()"))
    ]
    assert opening == []
