"""A bounded schemathesis run (FUZZ_SECONDS, 60 by default) against a live service, with a
partner's test key: no answer may be a 5xx, and every answer must match the spec the
service serves (status, content type, body schema). The seed is printed to replay it.
URLs longer than gunicorn's request line are left out (tests/fuzz_hooks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PRODUCTS, make_partner
from tests.live_service import gunicorn_service, service_env

SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
ROOT = str(Path(__file__).resolve().parents[2])


@pytest.mark.slow
def test_the_fuzzer_finds_no_server_error_and_no_answer_off_the_spec(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    _, key = make_partner(engine)
    env = service_env(db_url, PRODUCTS, tmp_path)
    with gunicorn_service(env, tmp_path / "server.log", workers=2) as base:
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{base}/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--checks",
                "not_a_server_error,response_schema_conformance,"
                "content_type_conformance,status_code_conformance",
                "--max-time",
                str(SECONDS),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": ROOT},
            cwd=ROOT,
            timeout=SECONDS + 300,
            check=False,
        )
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
