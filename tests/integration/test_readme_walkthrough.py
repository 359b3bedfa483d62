"""The README's walkthroughs run as written, against a live service: each command of the
curl walkthrough and of the parcel_delay walkthrough is run by bash, in order, with only
what a reader fills in by hand filled in here (the key printed by `partners create`, the
base URL, the `qt_...` and `pol_...` ids printed by the commands before). Every HTTP
answer must be 2xx and every CLI command must succeed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PRODUCTS
from tests.live_service import COMMAND, gunicorn_service, service_env

README = Path(__file__).resolve().parents[2] / "README.md"
SECTIONS = ("## Walkthrough with curl", "### A new scenario from files: parcel_delay")


def _block(section: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(section)
    fenced = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert fenced, f"no sh block under {section}"
    return fenced.group(1)


def _commands(block: str) -> list[str]:
    """Shell commands, continuation lines and quoted newlines joined; comments dropped."""
    commands: list[str] = []
    current = ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if line.endswith("\\") or current.count("'") % 2:
            continue
        commands.append(current.strip())
        current = ""
    return commands


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS)
def test_the_readme_walkthrough_runs_as_written(
    db_url: str, engine: sa.Engine, tmp_path: Path, section: str
) -> None:
    env = service_env(db_url, PRODUCTS, tmp_path)
    ids: dict[str, str] = {}
    with gunicorn_service(env, tmp_path / "server.log", workers=1) as base:
        shell = f"set -euo pipefail\nB={base}\n"
        for command in _commands(_block(section)):
            command = command.replace(".venv/bin/policy-service", COMMAND)
            command = command.replace("B=http://127.0.0.1:8000", f"B={base}")
            if command.startswith("export KEY="):
                command = f"export KEY={ids['key']}"
            for prefix in ("qt_", "pol_"):
                if f"{prefix}..." in command:
                    command = command.replace(f"{prefix}...", ids[prefix])
            is_curl = command.startswith("curl ") and "| " not in command
            if is_curl:
                command += " -w '\\n%{http_code}'"
            if section.startswith("###") and "KEY" not in ids:
                shell += _partner(env, ids)
            done = subprocess.run(
                ["bash", "-c", shell + command],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            out = done.stdout
            if is_curl:
                body, _, status = out.rpartition("\n")
                assert status.startswith("2"), (command, status, body)
                if "/v1/trigger-events" in command:  # the walkthrough's report pays
                    assert json.loads(body)["result"]["paid"] == 1, body
                for prefix in ("qt_", "pol_"):
                    found = re.search(rf'"id":\s*"({prefix}[a-z0-9]+)"', body)
                    if found:
                        ids[prefix] = found.group(1)
            key = re.search(r"sk_test_[A-Za-z0-9]+", out)
            if key and "partners create" in command:
                ids["key"] = key.group(0)
            # what the command set (DELIVERY=..., KEY) holds for the next ones
            if re.match(r"^[A-Z_]+=", command) or command.startswith("export "):
                shell += command + "\n"
            if command.startswith("export KEY="):
                ids["KEY"] = ids["key"]
    assert "pol_" in ids or "qt_" in ids, ids


def _partner(env: dict[str, str], ids: dict[str, str]) -> str:
    """The parcel_delay walkthrough starts with a partner key in $KEY (the curl one's)."""
    done = subprocess.run(
        [COMMAND, "partners", "create", "Parcel Shop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = re.search(r"sk_test_[A-Za-z0-9]+", done.stdout)
    assert key, done.stdout
    ids["key"] = ids["KEY"] = key.group(0)
    return f"export KEY={key.group(0)}\n"


def test_the_commands_are_found() -> None:
    curl = _commands(_block(SECTIONS[0]))
    assert any(c.startswith("curl -s $B/v1/quotes") for c in curl)
    assert any("/cancel" in c for c in curl)
    parcel = _commands(_block(SECTIONS[1]))
    assert any("parcel.delivered" in c and "/v1/trigger-events" in c for c in parcel)
