"""Console sessions and CSRF: signed session cookies that are HttpOnly, SameSite and Secure
(except over plain HTTP on this machine's loopback, for the embedded default), a
per-session CSRF token checked on every state-changing request, and the staff member
reloaded from the database on every request (so a disabled account stops at once)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, request, session
from flask.sessions import SecureCookieSessionInterface

from policy_service.services.staff import Staff

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
F = TypeVar("F", bound=Callable[..., Any])


class ConsoleSessionInterface(SecureCookieSessionInterface):
    def __init__(self, secure: bool | None) -> None:
        self.secure = secure

    def get_cookie_secure(self, app: Flask) -> bool:
        if self.secure is not None:
            return self.secure
        # Auto: the embedded default serves http://127.0.0.1, where a Secure cookie would
        # not come back in every browser; any other host must be HTTPS. (A proxy that
        # rewrites Host to loopback needs SESSION_COOKIE_SECURE=true.)
        host = urlsplit("//" + (request.host or "")).hostname or ""
        return request.is_secure or host not in _LOOPBACK


def configure_sessions(app: Flask, secret: bytes, hours: int, secure: bool | None) -> None:
    app.secret_key = secret or secrets.token_bytes(32)
    app.session_interface = ConsoleSessionInterface(secure)
    app.config.update(
        SESSION_COOKIE_NAME="ps_ops_session",
        SESSION_COOKIE_PATH="/ops",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=hours),
        SESSION_REFRESH_EACH_REQUEST=False,
    )


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """Refuse a state-changing request whose token is missing or not this session's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf")
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(str(expected), sent):
        abort(400, description="csrf")


def start_session(staff: Staff) -> None:
    """A fresh session for a login (never the pre-login one: no session fixation)."""
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    session["staff_id"] = staff.id
    # Wall-clock time, not the service clock: it is compared with sessions_revoked_at.
    session["started"] = datetime.now(UTC).isoformat()
    session["csrf"] = secrets.token_urlsafe(32)
    if lang:
        session["lang"] = lang


def session_start_time() -> datetime | None:
    raw = session.get("started")
    try:
        return datetime.fromisoformat(raw) if raw else None
    except (TypeError, ValueError):
        return None


def current_staff() -> Staff:
    found: Staff | None = g.get("ops_staff")
    if found is None:  # pragma: no cover - the blueprint's before_request sets it
        abort(401)
    return found


def roles_required(*roles: str) -> Callable[[F], F]:
    """Only these roles may use the view (others get 403, checked on the server)."""

    def wrap(view: F) -> F:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if current_staff().role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap
