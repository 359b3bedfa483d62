"""Prefixed, time-sortable ids: a prefix, 10 chars of milliseconds, 16 random chars (Crockford base32)."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

PREFIXES = frozenset(
    {
        "ptn",
        "key",
        "qt",
        "pol",
        "clm",
        "evt",
        "whe",
        "wdl",
        "stm",
        "pay",
        "rfd",
        "prv",
        "stf",
        "trg",
        "cpo",
        "att",
    }
)


def _encode(number: int, length: int) -> str:
    out = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_id(prefix: str, now_ms: int | None = None) -> str:
    """e.g. pol_01jf3k9x2m7q4v8z0c5n6b1r2t3w; lexical order follows creation time."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return f"{prefix}_{_encode(ms, 10)}{_encode(secrets.randbits(80), 16)}"


def has_prefix(value: object, prefix: str) -> bool:
    return (
        isinstance(value, str) and value.startswith(prefix + "_") and len(value) == len(prefix) + 27
    )
