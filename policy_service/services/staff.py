"""Ops staff: accounts, passwords (for the console) and API tokens (for /v1/ops)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from policy_service.adapters.rate_limiter import RateLimiter
from policy_service.domain.errors import (
    BusinessRefusal,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from policy_service.domain.ids import new_id
from policy_service.domain.records import STAFF_ROLES

from .partners import hash_key
from .unit_of_work import Tx, UnitOfWork

ROLES = STAFF_ROLES
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}$")
_ALPHABET = string.ascii_letters + string.digits
# scrypt at 32 MiB of memory: slow to guess offline, quick enough for a login.
_N, _R, _P = 2**15, 8, 1
MIN_PASSWORD = 12
#: wrong passwords in a row before a console login locks, and for how long
LOGIN_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class Staff:
    id: str
    email: str
    role: str


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def create_staff(
    uow: UnitOfWork, email: str, role: str, password: str | None, now: datetime
) -> Staff:
    with uow.write() as tx:
        return _create_staff(tx, email, role, password, now)


def _create_staff(tx: Tx, email: str, role: str, password: str | None, now: datetime) -> Staff:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidRequest("must be an e-mail address", param="email")
    if role not in ROLES:
        raise InvalidRequest(f"must be one of: {', '.join(ROLES)}", param="role")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"must be at least {MIN_PASSWORD} characters", param="password")
    if tx.partners.staff_by_email(email) is not None:
        raise InvalidRequest(f"{email} already has an account", param="email")
    staff = Staff(new_id("stf"), email, role)
    tx.partners.insert_staff(
        {
            "id": staff.id,
            "email": email,
            "role": role,
            "password_hash": hash_password(password) if password else None,
            "created_at": now,
        },
    )
    return staff


def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches a hash made by hash_password (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(found, bytes.fromhex(digest))


@functools.cache
def _dummy_hash() -> str:
    # A hash of nothing anyone knows: an unknown e-mail costs as much as a wrong password.
    return hash_password(secrets.token_hex(16))


class LoginThrottle:
    """Console logins from one client address: at most `per_address` attempts (counted
    before any password is hashed, so guessing cannot burn the CPU), and after
    LOGIN_ATTEMPTS wrong passwords in a row for one account, that account waits LOCKOUT
    from that address only (nobody elsewhere can keep a staff member out)."""

    def __init__(self, limiter: RateLimiter, per_address: str) -> None:
        self.limiter = limiter
        self.per_address = per_address

    def admit(self, address: str) -> None:
        window = self.limiter.hit(self.per_address, "console-login", address)
        if not window.allowed:
            raise RateLimited(
                f"too many login attempts from this address: wait {window.reset_seconds} s",
                retry_after=window.reset_seconds,
            )


def login(
    uow: UnitOfWork,
    email: str,
    password: str,
    now: datetime,
    address: str = "",
    throttle: LoginThrottle | None = None,
) -> Staff:
    """The staff member with this e-mail and password (console login), tried from client
    `address`. RateLimited when the address tried too often."""
    if throttle is not None:
        throttle.admit(address)
    with uow.write() as tx:
        try:
            return _check_login(tx, email, password, now, address[:64])
        except Unauthenticated as exc:
            failure = exc  # leave the block normally: the failure count is committed
    raise failure


def _check_login(tx: Tx, email: str, password: str, now: datetime, address: str) -> Staff:
    # The row stays locked until the failure count is written: parallel guesses queue.
    row = tx.partners.staff_by_email((email or "").strip().lower(), for_update=True)
    failures, locked_until = (
        tx.partners.login_failures(row.id, address) if row is not None else (0, None)
    )
    locked = locked_until is not None and now < locked_until
    stored = row.password_hash if row is not None else None
    # A locked address is not even hashed for; an unknown e-mail costs a full hash.
    matches = not locked and check_password(stored or _dummy_hash(), password or "")
    if row is None or stored is None or not matches or row.disabled_at is not None:
        if row is not None and stored is not None and not matches and not locked:
            failed = failures + 1
            lock = failed >= LOGIN_ATTEMPTS
            tx.partners.set_login_failures(
                row.id, address, 0 if lock else failed, now + LOCKOUT if lock else None
            )
        # One answer whatever failed (unknown e-mail, wrong password, locked, disabled),
        # so the form does not tell which e-mails have accounts.
        raise Unauthenticated("wrong e-mail or password", code="login_failed")
    if failures or locked_until:
        tx.partners.set_login_failures(row.id, address, 0, None)
    return Staff(row.id, row.email, row.role)


def set_password(uow: UnitOfWork, email: str, password: str) -> None:
    """A new console password (`policy-service staff password`); it ends the account's
    sessions and lifts a login lock."""
    with uow.write() as tx:
        row = tx.partners.staff_by_email(email.strip().lower())
        if row is None:
            raise NotFound(f"no staff account {email}", param="email")
        if len(password) < MIN_PASSWORD:
            raise InvalidRequest(f"must be at least {MIN_PASSWORD} characters", param="password")
        tx.partners.update_staff(
            row.id,
            password_hash=hash_password(password),
            sessions_revoked_at=datetime.now(UTC),
        )
        tx.partners.clear_login_failures(row.id)


def session_staff(uow: UnitOfWork, staff_id: str, started: datetime) -> Staff | None:
    """The staff member of a console session started at `started`, with the role they
    have now; None once the account is disabled or the session was ended (checked on every
    request, so neither waits for the cookie to expire)."""
    with uow.read() as tx:
        row = tx.partners.staff_by_id(staff_id)
        if row is None or row.disabled_at is not None:
            return None
        if row.sessions_revoked_at is not None and started <= row.sessions_revoked_at:
            return None
        return Staff(row.id, row.email, row.role)


def end_sessions(uow: UnitOfWork, staff_id: str, now: datetime) -> None:
    """Log out: every console session of this staff member started until now is void."""
    with uow.write() as tx:
        tx.partners.update_staff(staff_id, sessions_revoked_at=now)


@dataclass(frozen=True)
class StaffAccount:
    id: str
    email: str
    role: str
    has_password: bool
    created_at: datetime
    disabled_at: datetime | None


def _require_admin(actor: Staff) -> None:
    if actor.role != "admin":
        raise PermissionDenied("only admins manage staff accounts", code="admin_role_required")


def list_accounts(uow: UnitOfWork, actor: Staff) -> list[StaffAccount]:
    with uow.read() as tx:
        _require_admin(actor)
        return [
            StaffAccount(
                r.id, r.email, r.role, r.password_hash is not None, r.created_at, r.disabled_at
            )
            for r in tx.partners.list_staff()
        ]


def add_account(
    uow: UnitOfWork, actor: Staff, email: str, role: str, password: str, now: datetime
) -> Staff:
    """An admin creates a console account (the CLI's `staff create`, from the console)."""
    with uow.write() as tx:
        _require_admin(actor)
        if not password:
            raise InvalidRequest("is required for a console login", param="password")
        return _create_staff(tx, email, role, password, now)


def change_account(
    uow: UnitOfWork,
    actor: Staff,
    staff_id: str,
    now: datetime,
    *,
    role: str | None = None,
    disabled: bool | None = None,
) -> None:
    """Change a staff member's role, or disable / re-enable the account."""
    with uow.write() as tx:
        _require_admin(actor)
        row = tx.partners.staff_by_id(staff_id)
        if row is None:
            raise NotFound(f"no staff account {staff_id}")
        if role is None and disabled is None:
            raise InvalidRequest("say what to change: a role, or disable / enable", param="action")
        values: dict[str, object] = {}
        if role is not None:
            if role not in ROLES:
                raise InvalidRequest(f"must be one of: {', '.join(ROLES)}", param="role")
            values["role"] = role
        if disabled is not None:
            values["disabled_at"] = now if disabled else None
            if disabled:
                # Sessions use the wall clock; a re-enabled account must log in again.
                values["sessions_revoked_at"] = datetime.now(UTC)
        loses_admin = disabled or (role is not None and role != "admin")
        if staff_id == actor.id and loses_admin:
            raise BusinessRefusal(
                "you cannot disable or demote your own account; ask another admin",
                code="own_account",
            )
        if loses_admin and row.role == "admin" and tx.partners.count_active_admins() <= 1:
            raise BusinessRefusal("the last active admin must stay an admin", code="last_admin")
        tx.partners.update_staff(staff_id, **values)


def create_token(uow: UnitOfWork, email: str, now: datetime) -> str:
    """An API token for /v1/ops (ops_...), shown once; the staff member's role applies."""
    with uow.write() as tx:
        row = tx.partners.staff_by_email(email.strip().lower())
        if row is None or row.disabled_at is not None:
            raise NotFound(f"no active staff account {email}", param="email")
        secret = "ops_" + "".join(secrets.choice(_ALPHABET) for _ in range(40))
        tx.partners.insert_staff_token(
            {
                "id": new_id("key"),
                "staff_id": row.id,
                "token_hash": hash_key(secret),
                "token_hint": f"{secret[:8]}...{secret[-4:]}",
                "created_at": now,
            },
        )
        return secret


def authenticate_token(uow: UnitOfWork, header: str | None) -> Staff:
    """The staff member behind `Authorization: Bearer ops_...` (looked up every time, so
    a disabled account stops at once)."""
    scheme, _, secret = (header or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith("ops_"):
        raise Unauthenticated(
            "the ops API needs a staff token: Authorization: Bearer ops_... "
            "(`policy-service staff token EMAIL`); partner keys are not accepted",
            code="staff_token_required",
        )
    with uow.read() as tx:
        row = tx.partners.staff_for_token_hash(hash_key(secret))
    if row is None:
        raise Unauthenticated("invalid or revoked staff token", code="invalid_staff_token")
    return Staff(row.id, row.email, row.role)
