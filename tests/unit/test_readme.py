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


def test_the_readme_verification_snippet_accepts_our_signatures() -> None:
    import time

    import pytest

    from policy_service.domain.signatures import signature_header

    readme = (ROOT / "README.md").read_text()
    [snippet] = re.findall(r"```python\n(.+?)\n```", readme, re.S)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # the partners' copy, as printed
    verify = namespace["verify"]
    body = b'{"id":"evt_1","type":"policy.issued"}'
    now = int(time.time())
    header = signature_header(["whsec_new", "whsec_old"], now, body)
    assert verify(body, header, "whsec_old") == now
    with pytest.raises(ValueError):
        verify(body + b"x", header, "whsec_new")
    with pytest.raises(ValueError):
        verify(body, signature_header(["whsec_new"], now - 600, body), "whsec_new")
