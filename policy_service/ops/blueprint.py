"""The console blueprint: who is logged in, CSRF, language, formatting and error pages."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from policy_service.bootstrap import Services
from policy_service.domain.errors import ServiceError
from policy_service.domain.money import from_minor
from policy_service.presentation.errors import status_of
from policy_service.presentation.request_guard import check_request_text
from policy_service.services.staff import session_staff

from . import i18n
from .security import check_csrf, csrf_token, session_start_time

log = logging.getLogger(__name__)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/ops",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: reachable without a session
_PUBLIC = {"console.login", "console.static"}

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def svc() -> Services:
    services: Services = current_app.extensions["policy_service"]
    return services


def lang() -> str:
    return str(g.get("lang", "en"))


def _(text: str, **values: object) -> str:
    return i18n.translate(lang(), text, **values)


@bp.before_request
def _before() -> ResponseReturnValue | None:
    wanted = request.args.get("lang")
    if wanted in i18n.LANGUAGES and session.get("lang") != wanted:
        session["lang"] = wanted
    g.lang = session.get("lang") or request.accept_languages.best_match(["en", "zh"]) or "en"
    check_request_text()
    check_csrf()
    if request.endpoint in _PUBLIC:
        return None
    staff = None
    started = session_start_time()
    lifetime = current_app.permanent_session_lifetime
    # A login lasts SESSION_HOURS from the login itself, however often the cookie is re-sent.
    if session.get("staff_id") and started and datetime.now(UTC) < started + lifetime:
        staff = session_staff(svc().uow, str(session["staff_id"]), started)
    if staff is None:
        session.pop("staff_id", None)
        login = url_for("console.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request"):
            # htmx would swap the login page into the results: send the whole page there.
            return Response(status=204, headers={"HX-Redirect": login})
        if request.method != "GET":
            return render_page(
                "error.html", 401, message=_("Your session has ended; log in again.")
            )
        return redirect(login)
    g.ops_staff = staff
    svc().catalog.maybe_reload()
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)  # downloads set "sandbox"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.vary.add("HX-Request")
    if not request.path.startswith("/ops/static/"):
        # Pages hold personal data: never kept in shared caches or the back-button cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def _query_with(**changes: Any) -> str:
    """The current query string with some parameters changed (None removes one)."""
    args = {k: v for k, v in request.args.items() if k not in changes}
    args.update({k: v for k, v in changes.items() if v is not None})
    return "?" + urlencode(args) if args else "?"


@bp.app_template_global("_")
def _translate(text: str, **values: object) -> str:
    return _(text, **values)


@bp.context_processor
def _context() -> dict[str, Any]:
    config = svc().config
    tz = config.settlement_timezone
    now = svc().clock()
    language = lang()
    return {
        "lang": language,
        "languages": i18n.LANGUAGES,
        "staff": g.get("ops_staff"),
        "csrf_token": csrf_token,
        "now": now,
        "query_with": _query_with,
        "money": lambda amount, currency: i18n.money(language, amount, currency),
        "number": lambda value: i18n.number(language, value),
        "percent": lambda value: i18n.percent(language, value),
        "when": lambda value: i18n.when(language, value, tz),
        "age": lambda since: i18n.age(language, now - since) if since else "—",
        "plain": _plain_number,
        "minor": from_minor,
    }


def _plain_number(value: object) -> str:
    """A worksheet figure without trailing zeros (13.891500000000 -> 13.8915)."""
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value or "")


def render_page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status)
    return response


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    return render_page("error.html", status_of(exc), message=exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    if code == 400 and exc.description == "csrf":
        message = _(
            "This form has expired or did not come from this console. "
            "Reload the page and try again."
        )
    elif code == 403:
        message = _("Your role may not open this page.")
    elif code == 404:
        message = _("Not found.")
    else:
        message = exc.description or exc.name
    return render_page("error.html", code, message=message)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("ops console: unexpected error on %s %s", request.method, request.path)
    return render_page("error.html", 500, message="internal error; it has been logged")


def now() -> datetime:
    return svc().clock()
