"""The server settings a deployment gives in the environment: a bad value stops the start
with a message naming the variable, instead of running with a default nobody chose."""

from __future__ import annotations

import pytest

from policy_service.config import load_config

BASE = {"DATA_DIR": "/tmp", "PII_HASH_KEY": "x"}


def test_server_and_threads_default_to_gunicorn_sync_workers() -> None:
    config = load_config(BASE)
    assert (config.web_server, config.web_workers, config.web_threads) == ("gunicorn", 2, 1)


def test_server_and_threads_are_read_from_the_environment() -> None:
    config = load_config({**BASE, "WEB_SERVER": "Granian", "WEB_THREADS": "4"})
    assert (config.web_server, config.web_threads) == ("granian", 4)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_SERVER", "nginx"),
        ("WEB_THREADS", "four"),
        ("WEB_THREADS", "0"),
        ("WEB_CONCURRENCY", "-1"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SystemExit, match=name):
        load_config({**BASE, name: value})
