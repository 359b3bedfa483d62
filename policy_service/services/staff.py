"""Ops staff: accounts, passwords (for the console) and API tokens (for /v1/ops)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from policy_service.adapters import partners_repo
from policy_service.domain.errors import InvalidRequest, NotFound, Unauthenticated
from policy_service.domain.ids import new_id

from .partners import hash_key

ROLES = ("reviewer", "approver", "admin")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}$")
_ALPHABET = string.ascii_letters + string.digits
# scrypt at 32 MiB of memory: slow to guess offline, quick enough for a login.
_N, _R, _P = 2**15, 8, 1
MIN_PASSWORD = 12


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
    conn: sa.Connection, email: str, role: str, password: str | None, now: datetime
) -> Staff:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidRequest("must be an e-mail address", param="email")
    if role not in ROLES:
        raise InvalidRequest(f"must be one of: {', '.join(ROLES)}", param="role")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"must be at least {MIN_PASSWORD} characters", param="password")
    if partners_repo.staff_by_email(conn, email) is not None:
        raise InvalidRequest(f"{email} already has an account", param="email")
    staff = Staff(new_id("stf"), email, role)
    partners_repo.insert_staff(
        conn,
        {
            "id": staff.id,
            "email": email,
            "role": role,
            "password_hash": hash_password(password) if password else None,
            "created_at": now,
        },
    )
    return staff


def create_token(conn: sa.Connection, email: str, now: datetime) -> str:
    """An API token for /v1/ops (ops_...), shown once; the staff member's role applies."""
    row = partners_repo.staff_by_email(conn, email.strip().lower())
    if row is None or row.disabled_at is not None:
        raise NotFound(f"no active staff account {email}", param="email")
    secret = "ops_" + "".join(secrets.choice(_ALPHABET) for _ in range(40))
    partners_repo.insert_staff_token(
        conn,
        {
            "id": new_id("key"),
            "staff_id": row.id,
            "token_hash": hash_key(secret),
            "token_hint": f"{secret[:8]}...{secret[-4:]}",
            "created_at": now,
        },
    )
    return secret


def authenticate_token(engine: sa.Engine, header: str | None) -> Staff:
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
    with engine.connect() as conn:
        row = partners_repo.staff_for_token_hash(conn, hash_key(secret))
    if row is None:
        raise Unauthenticated("invalid or revoked staff token", code="invalid_staff_token")
    return Staff(row.id, row.email, row.role)
