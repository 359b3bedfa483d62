"""Counting requests against rate limits (the `limits` library, moving windows: exact, where
a sliding-window counter's estimate lets a burst through at a window's edge):
in this process's memory by default, in Redis when REDIS_URL is set, so that every worker
and machine shares one count per key."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """Where one key stands against its limit after a request."""

    limit: int
    remaining: int
    #: seconds until the count has room again (whole seconds, at least 1 when refused)
    reset_seconds: int
    allowed: bool


@functools.lru_cache(maxsize=256)
def parse_limit(text: str) -> RateLimitItem:
    """`100/second`, `6000/minute`, `10 per 15 minutes`; ValueError names what is wrong."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a rate limit: write e.g. 100/second, 6000/minute, 5/15minutes"
        ) from None


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.shared = redis_url is not None
        self.storage = storage_from_string(redis_url or "memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._warned_at = 0.0

    def hit(self, limit: str, *key: str) -> Window:
        """Count one request of `key` against `limit`. Should the store fail (Redis down),
        the request is let through and the failure logged: a rate limit protects the
        service, it must not take it down."""
        item = parse_limit(limit)
        try:
            allowed = self.strategy.hit(item, *key)
            stats = self.strategy.get_window_stats(item, *key)
        except Exception:  # the store's own errors differ by backend
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.exception("rate limit store unavailable: requests are not limited")
            return Window(item.amount, item.amount, 0, True)
        reset = max(0, int(stats.reset_time - time.time() + 0.999))
        return Window(
            item.amount, max(stats.remaining, 0), max(reset, 0 if allowed else 1), allowed
        )
