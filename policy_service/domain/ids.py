"""Prefixed, time-sortable ids: a prefix, 10 chars of milliseconds, 16 random chars (Crockford base32)."""

from __future__ import annotations

import secrets
import threading
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
        "end",
        "prq",
    }
)


#: every pair of digits, by the 10 bits they write
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _encode(number: int, length: int) -> str:
    """`number` as `length` (even) base32 digits, most significant first, two at a time
    (an id is made on every write)."""
    return "".join([_PAIRS[(number >> shift) & 1023] for shift in range(length * 5 - 10, -1, -10)])


def _body(ms: int, rand: int) -> str:
    # 10 digits of milliseconds then 16 of the random part: one 130-bit number
    return _encode(ms << 80 | rand, 26)


_last = [0, 0]  # the last (milliseconds, random part) this process handed out
_lock = threading.Lock()


def new_id(prefix: str, now_ms: int | None = None) -> str:
    """e.g. pol_01jf3k9x2m7q4v8z0c5n6b1r2t3w; lexical order follows creation time.

    Within one process ids are strictly increasing, even within a millisecond (the
    random part counts up), so the events one transaction writes list in order."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    if now_ms is not None:
        return f"{prefix}_{_body(now_ms, secrets.randbits(80))}"
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms <= _last[0] and _last[1] < 2**80 - 2**16:
            ms, rand = _last[0], _last[1] + 1 + secrets.randbits(16)
        else:
            rand = secrets.randbits(79)  # room to count up within the millisecond
        _last[0], _last[1] = ms, rand
    return f"{prefix}_{_body(ms, rand)}"


def has_prefix(value: object, prefix: str) -> bool:
    return (
        isinstance(value, str) and value.startswith(prefix + "_") and len(value) == len(prefix) + 27
    )
