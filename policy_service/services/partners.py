"""Partners and API keys: creation (CLI) and authentication (every API request)."""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
import time
from datetime import datetime

import sqlalchemy as sa

from policy_service.adapters import partners_repo
from policy_service.domain.errors import InvalidRequest, Unauthenticated
from policy_service.domain.ids import new_id
from policy_service.domain.records import ALL_SCOPES, BILLING_MODES, FULL_ACCESS, Caller, Partner

_ALPHABET = string.ascii_letters + string.digits
#: partner keys (sk_) and data-provider keys (dk_), each in test or live mode
_KEY_PREFIXES = ("sk_test_", "sk_live_", "dk_test_", "dk_live_")


def hash_key(secret: str) -> str:
    # API keys carry 190 bits of randomness, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_partner(
    conn: sa.Connection, name: str, billing_mode: str, livemode: bool, now: datetime
) -> tuple[Partner, str]:
    """Create a partner and its first API key; the secret is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("partner name must be 1 to 200 characters", param="name")
    if billing_mode not in BILLING_MODES:
        raise InvalidRequest(f"billing must be one of {', '.join(BILLING_MODES)}", param="billing")
    partner = Partner(new_id("ptn"), name, billing_mode, now)
    partners_repo.insert_partner(conn, partner)
    return partner, create_api_key(conn, partner.id, livemode, (FULL_ACCESS,), now)


def create_api_key(
    conn: sa.Connection,
    partner_id: str,
    livemode: bool,
    scopes: tuple[str, ...] | list[str],
    now: datetime,
) -> str:
    unknown = set(scopes) - {*ALL_SCOPES, FULL_ACCESS}
    if unknown:
        raise InvalidRequest(f"unknown scopes: {', '.join(sorted(unknown))}", param="scopes")
    if partners_repo.get_partner(conn, partner_id) is None:
        raise InvalidRequest(f"no partner {partner_id}", param="partner")
    secret = ("sk_live_" if livemode else "sk_test_") + "".join(
        secrets.choice(_ALPHABET) for _ in range(32)
    )
    partners_repo.insert_key(
        conn,
        new_id("key"),
        partner_id,
        hash_key(secret),
        f"{secret[:8]}...{secret[-4:]}",
        livemode,
        " ".join(sorted(scopes)),
        now,
    )
    return secret


def _secret(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(32))


def create_provider(
    conn: sa.Connection, name: str, livemode: bool, now: datetime
) -> tuple[str, str]:
    """A data provider and its key (dk_...): it may post trigger events and nothing else.
    Returns (provider id, secret); the secret is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("provider name must be 1 to 200 characters", param="name")
    provider_id = new_id("prv")
    partners_repo.insert_provider(conn, provider_id, name, now)
    secret = _secret("dk_live_" if livemode else "dk_test_")
    partners_repo.insert_provider_key(
        conn,
        new_id("key"),
        provider_id,
        hash_key(secret),
        f"{secret[:8]}...{secret[-4:]}",
        livemode,
        now,
    )
    return provider_id, secret


class KeyAuthenticator:
    """Resolves a bearer secret to a Caller, caching hits briefly to spare a query per request."""

    def __init__(self, engine: sa.Engine, cache_seconds: int = 30) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def authenticate(self, header: str | None) -> Caller:
        if not header:
            raise Unauthenticated(
                "no API key: send Authorization: Bearer sk_test_... (or sk_live_...)",
                code="missing_api_key",
            )
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(_KEY_PREFIXES):
            raise Unauthenticated(
                "the Authorization header must be: Bearer sk_test_... or sk_live_..."
                " (dk_... for data providers)"
            )
        digest = hash_key(secret)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.engine.connect() as conn:
            if secret.startswith("dk_"):
                caller = partners_repo.caller_for_provider_key(conn, digest)
            else:
                caller = partners_repo.caller_for_key_hash(conn, digest)
        if caller is None:
            raise Unauthenticated("invalid API key")
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self.cache_seconds, caller)
        return caller


def partner_names(engine: sa.Engine) -> dict[str, str]:
    """Every partner's name by id (ops filters and labels)."""
    with engine.connect() as conn:
        return partners_repo.partner_names(conn)
