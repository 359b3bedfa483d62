"""Reading ops filters from query-string text: empty means "no filter", bad values name
their parameter (the console's filter forms and /v1/ops share these)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policy_service.domain.errors import InvalidRequest


def text(args: Mapping[str, str], name: str) -> str | None:
    value = (args.get(name) or "").strip()
    return value or None


def one_of(args: Mapping[str, str], name: str, allowed: Iterable[str]) -> str | None:
    value = text(args, name)
    allowed = [str(a) for a in allowed]
    if value is not None and value not in allowed:
        raise InvalidRequest(f"must be one of: {', '.join(allowed)}", param=name)
    return value


def livemode(args: Mapping[str, str]) -> bool | None:
    """`mode`: live, test, or empty for both."""
    mode = one_of(args, "mode", ("live", "test"))
    return None if mode is None else mode == "live"
