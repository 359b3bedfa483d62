"""The README's two commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    test_command = re.search(r'^TEST_COMMAND="(.+)"$', ci, re.M)
    assert test_command is not None
    blocks = re.findall(r"```sh\n(.+?)\n```", readme, re.S)
    assert blocks[0].startswith("python3 -m venv .venv") and blocks[0].endswith(
        "policy-service serve"
    )
    assert blocks[1] == test_command.group(1)
