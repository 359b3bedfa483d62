"""Partners and API keys: creation (CLI) and authentication (every API request)."""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from policy_service.adapters.rate_limiter import parse_limit
from policy_service.domain.errors import InvalidRequest, NotFound, Unauthenticated
from policy_service.domain.ids import new_id
from policy_service.domain.records import ALL_SCOPES, BILLING_MODES, FULL_ACCESS, Caller, Partner

from .unit_of_work import Tx, UnitOfWork

_ALPHABET = string.ascii_letters + string.digits
#: partner keys (sk_) and data-provider keys (dk_), each in test or live mode
_KEY_PREFIXES = ("sk_test_", "sk_live_", "dk_test_", "dk_live_")


def hash_key(secret: str) -> str:
    # API keys carry 190 bits of randomness, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_partner(
    uow: UnitOfWork, name: str, billing_mode: str, livemode: bool, now: datetime
) -> tuple[Partner, str]:
    """Create a partner and its first API key; the secret is returned once and never stored."""
    with uow.write() as tx:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidRequest("partner name must be 1 to 200 characters", param="name")
        if billing_mode not in BILLING_MODES:
            raise InvalidRequest(
                f"billing must be one of {', '.join(BILLING_MODES)}", param="billing"
            )
        partner = Partner(new_id("ptn"), name, billing_mode, now)
        tx.partners.insert_partner(partner)
        return partner, _create_api_key(tx, partner.id, livemode, (FULL_ACCESS,), now)


def set_rate_limit(uow: UnitOfWork, owner_id: str, rate_limit: str | None) -> None:
    """A partner's (ptn_...) or data provider's (prv_...) own limit of requests per key, e.g.
    500/second; None: the service's RATE_LIMIT_DEFAULT. Processes see it once their cached
    key lookup expires (API_KEY_CACHE_SECONDS)."""
    if rate_limit is not None:
        try:
            parse_limit(rate_limit)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="rate_limit") from None
    with uow.write() as tx:
        if not tx.partners.set_rate_limit(owner_id, rate_limit):
            raise NotFound(f"no partner or data provider {owner_id}", param="id")


def create_api_key(
    uow: UnitOfWork,
    partner_id: str,
    livemode: bool,
    scopes: tuple[str, ...] | list[str],
    now: datetime,
) -> str:
    with uow.write() as tx:
        return _create_api_key(tx, partner_id, livemode, scopes, now)


def _create_api_key(
    tx: Tx,
    partner_id: str,
    livemode: bool,
    scopes: tuple[str, ...] | list[str],
    now: datetime,
) -> str:
    return create_key_in(tx, partner_id, livemode, scopes, now)[1]


def create_key_in(
    tx: Tx,
    partner_id: str,
    livemode: bool,
    scopes: tuple[str, ...] | list[str],
    now: datetime,
) -> tuple[str, str]:
    """A new key of the partner in this transaction: (its id, its secret, shown once)."""
    unknown = set(scopes) - {*ALL_SCOPES, FULL_ACCESS}
    if unknown:
        raise InvalidRequest(f"unknown scopes: {', '.join(sorted(unknown))}", param="scopes")
    if tx.partners.get_partner(partner_id) is None:
        raise InvalidRequest(f"no partner {partner_id}", param="partner")
    secret = ("sk_live_" if livemode else "sk_test_") + "".join(
        secrets.choice(_ALPHABET) for _ in range(32)
    )
    key_id = new_id("key")
    tx.partners.insert_key(
        key_id,
        partner_id,
        hash_key(secret),
        f"{secret[:8]}...{secret[-4:]}",
        livemode,
        " ".join(sorted(set(scopes))),  # once each: the column holds every scope once
        now,
    )
    return key_id, secret


def _secret(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(32))


def create_provider(uow: UnitOfWork, name: str, livemode: bool, now: datetime) -> tuple[str, str]:
    """A data provider and its key (dk_...): it may post trigger events and nothing else.
    Returns (provider id, secret); the secret is shown once and never stored."""
    with uow.write() as tx:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidRequest("provider name must be 1 to 200 characters", param="name")
        provider_id = new_id("prv")
        tx.partners.insert_provider(provider_id, name, now)
        secret = _secret("dk_live_" if livemode else "dk_test_")
        tx.partners.insert_provider_key(
            new_id("key"),
            provider_id,
            hash_key(secret),
            f"{secret[:8]}...{secret[-4:]}",
            livemode,
            now,
        )
        return provider_id, secret


class KeyAuthenticator:
    """Resolves a bearer secret to a Caller, caching hits briefly (API_KEY_CACHE_SECONDS,
    1 s by default) to spare a query per request: a revoked key is refused by every
    process within that time."""

    def __init__(
        self,
        uow: UnitOfWork,
        cache_seconds: int = 1,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.uow = uow
        self.cache_seconds = cache_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
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
        with self.uow.read() as tx:
            if secret.startswith("dk_"):
                caller = tx.partners.caller_for_provider_key(digest)
            else:
                caller = tx.partners.caller_for_key_hash(digest, self.clock())
        if caller is None:
            raise Unauthenticated("invalid API key")
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self.cache_seconds, caller)
        return caller


def partner_names(uow: UnitOfWork) -> dict[str, str]:
    """Every partner's name by id (ops filters and labels)."""
    with uow.read() as tx:
        return tx.partners.partner_names()
