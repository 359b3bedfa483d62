"""The one place that reads the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import limits


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)  # durations in seconds, never money
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _days_or_never(env: Mapping[str, str], name: str) -> int | None:
    """A number of days, or unset/0 for never."""
    days = _int(env, name, 0)
    if days < 0:
        raise SystemExit(f"{name} must be 0 (never) or a number of days, got {days}")
    return days or None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SystemExit(f"{name} must be 1 or more, got {value}")
    return value


def _tristate(env: Mapping[str, str], name: str) -> bool | None:
    raw = (env.get(name) or "auto").strip().lower()
    if raw not in ("auto", "true", "false"):
        raise SystemExit(f"{name} must be auto, true or false, got {raw!r}")
    return None if raw == "auto" else raw == "true"


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or default).strip().lower()
    if raw not in allowed:
        raise SystemExit(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _amount(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SystemExit(f'{name} must be an amount such as "200.00", got {raw!r}') from None
    if not value.is_finite() or value < 0:
        raise SystemExit(f"{name} must be a positive amount, got {raw!r}")
    return value


@dataclass(frozen=True)
class Config:
    #: SQLAlchemy URL; default a SQLite file in data_dir
    database_url: str
    #: folder of product folders
    products_dir: Path
    #: where the embedded defaults keep their files (SQLite database, generated keys)
    data_dir: Path
    #: key of the policyholder ID hash; must be the same on every instance
    pii_hash_key: bytes = field(repr=False)
    #: signs the ops console's session cookies; the same on every instance
    session_secret: bytes = field(default=b"", repr=False)
    #: a console login lasts this long
    session_hours: int = 10
    #: Secure flag of the console's cookie: True, False, or None (auto: secure unless the
    #: request's host is loopback, the embedded default over plain HTTP)
    session_cookie_secure: bool | None = None
    #: largest request body accepted, bytes
    max_body_bytes: int = 2 * 1024 * 1024
    #: how often a worker process looks for changed product files, seconds (0: never)
    products_reload_seconds: int = 5
    #: how long an API key lookup is cached in a process, seconds: a revoked key is refused
    #: everywhere within it
    api_key_cache_seconds: int = 1
    #: how long an Idempotency-Key is remembered, hours
    idempotency_ttl_hours: int = 24
    bind: str = "127.0.0.1:8000"
    web_workers: int = 2
    #: threads per web worker: 1 is gunicorn's sync worker, more its gthread worker
    web_threads: int = 1
    #: the HTTP server serve runs: gunicorn or granian
    web_server: str = "gunicorn"
    #: seconds a web worker has to finish its requests on shutdown before it is killed
    web_graceful_timeout: int = 30
    #: webhook delivery: HTTP timeout, lease of a claimed delivery, back-off and give-up times
    webhook_timeout_seconds: float = 10.0
    webhook_lease_seconds: float = 60.0
    webhook_backoff_base_seconds: float = 30.0
    webhook_backoff_max_seconds: float = 6 * 3600.0
    webhook_retry_hours: float = 72.0
    webhook_disable_after_hours: float = 120.0
    #: worker: idle poll interval, concurrent deliveries per process, deliveries per claim
    worker_poll_seconds: float = 1.0
    worker_concurrency: int = 8
    worker_batch: int = 32
    #: erase a policyholder this many days after the policy's cover ended (None: never)
    privacy_retention_days: int | None = None
    #: the Stripe-compatible payment API (stripe billing)
    stripe_api_key: str | None = field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_timeout_seconds: float = 10.0
    #: statements close at the end of each month in this time zone
    settlement_timezone: str = "Asia/Shanghai"
    #: a claim approved above this amount (in its currency) needs a second, different approver
    second_approval_above: Decimal = Decimal("200.00")
    #: where claim attachments are stored (by sha256), and the largest accepted
    attachments_dir: Path | None = None
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: requests per API or provider key unless its partner has its own limit (None: no
    #: limit), e.g. 100/second; counted per process, or in Redis when redis_url is set
    rate_limit_default: str | None = "100/second"
    #: Redis shared by every process and machine (rate limits), e.g. redis://127.0.0.1:6379/0
    redis_url: str | None = None
    #: console login attempts per client address (checked before any password hashing)
    login_rate_per_ip: str = "20/minute"
    #: a bearer token that may scrape /metrics from off this machine (None: loopback only)
    metrics_token: str | None = field(default=None, repr=False)
    #: log lines: json (one object a line, for collectors) or text
    log_format: str = "json"
    #: reverse proxies in front that set X-Forwarded-For (0: the socket's address is the
    #: client's)
    trusted_proxies: int = 0
    testing: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: Any) -> Config:
        return replace(self, **changes)


def _secret(env: Mapping[str, str], name: str, data_dir: Path, filename: str) -> bytes:
    raw = env.get(name)
    if raw:
        return raw.encode()
    # Embedded default: a random key kept beside the SQLite file, made on first start
    # (every process on the machine reads the same file).
    path = data_dir / filename
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip().encode()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def load_config(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    data_dir = Path(env.get("DATA_DIR", "var")).resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'policy_service.db'}"
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        # psycopg 3 is the driver we ship.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return Config(
        database_url=database_url,
        products_dir=Path(env.get("PRODUCTS_DIR", "products")).resolve(),
        data_dir=data_dir,
        pii_hash_key=_secret(env, "PII_HASH_KEY", data_dir, "pii_hash.key"),
        session_secret=_secret(env, "SESSION_SECRET", data_dir, "session.key"),
        session_hours=_int(env, "SESSION_HOURS", 10),
        session_cookie_secure=_tristate(env, "SESSION_COOKIE_SECURE"),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 2 * 1024 * 1024),
        products_reload_seconds=_int(env, "PRODUCTS_RELOAD_SECONDS", 5),
        api_key_cache_seconds=_int(env, "API_KEY_CACHE_SECONDS", 1),
        idempotency_ttl_hours=_int(env, "IDEMPOTENCY_TTL_HOURS", 24),
        bind=env.get("BIND", "127.0.0.1:8000"),
        web_workers=_at_least_one(env, "WEB_CONCURRENCY", 2),
        web_threads=_at_least_one(env, "WEB_THREADS", 1),
        web_server=_choice(env, "WEB_SERVER", ("gunicorn", "granian"), "gunicorn"),
        web_graceful_timeout=_at_least_one(env, "WEB_GRACEFUL_TIMEOUT", 30),
        webhook_timeout_seconds=_float(env, "WEBHOOK_TIMEOUT_SECONDS", 10.0),
        webhook_lease_seconds=_float(env, "WEBHOOK_LEASE_SECONDS", 60.0),
        webhook_backoff_base_seconds=_float(env, "WEBHOOK_BACKOFF_BASE_SECONDS", 30.0),
        webhook_backoff_max_seconds=_float(env, "WEBHOOK_BACKOFF_MAX_SECONDS", 6 * 3600.0),
        webhook_retry_hours=_float(env, "WEBHOOK_RETRY_HOURS", 72.0),
        webhook_disable_after_hours=_float(env, "WEBHOOK_DISABLE_AFTER_HOURS", 120.0),
        worker_poll_seconds=_float(env, "WORKER_POLL_SECONDS", 1.0),
        worker_concurrency=_int(env, "WORKER_CONCURRENCY", 8),
        worker_batch=_int(env, "WORKER_BATCH", 32),
        privacy_retention_days=_days_or_never(env, "PRIVACY_RETENTION_DAYS"),
        stripe_api_key=env.get("STRIPE_API_KEY") or None,
        stripe_api_base=(env.get("STRIPE_API_BASE") or "https://api.stripe.com").rstrip("/"),
        stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
        stripe_timeout_seconds=_float(env, "STRIPE_TIMEOUT_SECONDS", 10.0),
        settlement_timezone=env.get("SETTLEMENT_TIMEZONE", "Asia/Shanghai"),
        second_approval_above=_amount(env, "SECOND_APPROVAL_ABOVE", "200.00"),
        attachments_dir=Path(env.get("ATTACHMENTS_DIR") or data_dir / "attachments").resolve(),
        attachment_max_bytes=_int(env, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
        rate_limit_default=_rate(env, "RATE_LIMIT_DEFAULT", "100/second"),
        redis_url=env.get("REDIS_URL") or None,
        login_rate_per_ip=_rate(env, "LOGIN_RATE_PER_IP", "20/minute") or "20/minute",
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
        log_format=_choice(env, "LOG_FORMAT", ("json", "text"), "json"),
        metrics_token=env.get("METRICS_TOKEN") or None,
    )


def _rate(env: Mapping[str, str], name: str, default: str) -> str | None:
    """A rate limit such as 100/second; `none` turns it off."""
    raw = (env.get(name) or default).strip()
    if raw.lower() == "none":
        return None
    try:
        limits.parse(raw)
    except ValueError:
        raise SystemExit(
            f"{name} must be a rate limit such as 100/second or 6000/minute (or none), got {raw!r}"
        ) from None
    return raw
