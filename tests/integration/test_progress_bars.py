"""Long reports draw a progress bar on a terminal, and only there: a pipe, a log file or
--json gets the answer without a stream of redraws."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from pricing.loader import load_catalog
from tests.conftest import PRODUCTS

#: any product on sale in the files: its edition in force, priced against itself
PRODUCT = next(iter(sorted(load_catalog(PRODUCTS).products.values(), key=lambda p: p.code)))


def _book(tmp_path: Path, rows: int) -> Path:
    edition = PRODUCT.editions[-1]
    risk = edition.example(edition.effective_from)
    path = tmp_path / "book.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*risk, "priced_at"])
        for _ in range(rows):
            out.writerow(
                [json.dumps(v) if isinstance(v, dict) else v for v in risk.values()]
                + [edition.effective_from.astimezone(UTC).isoformat()]
            )
    return path


def _impact(tmp_path: Path, *extra: str, terminal: bool) -> tuple[int, str, str]:
    edition = PRODUCT.editions[-1].id
    exe = Path(sys.executable).with_name("policy-service")
    args = [
        str(exe), "products", "impact", PRODUCT.code, "--from", edition, "--to", edition,
        "--book", str(_book(tmp_path, 120)), "--html", str(tmp_path / "i.html"), *extra,
    ]  # fmt: skip
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "PRODUCTS_DIR": str(PRODUCTS),
        "COLUMNS": "100",
    }
    env.pop("DATABASE_URL", None)  # a book file: the database is not read
    if not terminal:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    leader, follower = os.openpty()
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=follower) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(60)
    os.close(leader)
    return code, out, b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_impact_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    code, out, terminal = _impact(tmp_path, terminal=True)
    assert code == 0, terminal
    assert "pricing" in terminal and "100%" in terminal
    assert "risks 120" in out


def test_no_bar_in_a_pipe_or_with_json(tmp_path: Path) -> None:
    code, out, err = _impact(tmp_path, terminal=False)
    assert code == 0, err
    assert "%" not in err and "risks 120" in out
    code, out, err = _impact(tmp_path, "--json", terminal=True)
    assert code == 0
    assert "100%" not in err and json.loads(out[out.index("{") :])["rows"] == 120
