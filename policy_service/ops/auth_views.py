"""Login and logout."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from policy_service.domain.errors import RateLimited, Unauthenticated
from policy_service.services import staff as svc_staff

from .blueprint import _, bp, now, render_page, svc
from .security import current_staff, start_session


def _safe_next(target: str | None) -> str:
    # Only a path inside the console: never an open redirect, nor a header break.
    if (
        target
        and target.startswith("/ops/")
        and target.isprintable()
        and not urlsplit(target).netloc
        and "\\" not in target
    ):
        return target
    return url_for("console.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_page("login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        member = svc_staff.login(
            svc().uow,
            email,
            request.form.get("password", ""),
            now(),
            request.remote_addr or "",
            svc().login_throttle,
        )
    except RateLimited as exc:
        page = render_page(
            "login.html",
            429,
            error=_(
                "Too many attempts from your address: wait {seconds} s.", seconds=exc.retry_after
            ),
            email=email,
            next=request.form.get("next", ""),
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except Unauthenticated:
        return render_page(
            "login.html",
            401,
            error=_(
                "Wrong e-mail or password. After {attempts} wrong passwords the login waits "
                "{minutes} minutes here.",
                attempts=svc_staff.LOGIN_ATTEMPTS,
                minutes=int(svc_staff.LOCKOUT.total_seconds() // 60),
            ),
            email=email,
            next=request.form.get("next", ""),
        )
    start_session(member)
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    svc_staff.end_sessions(svc().uow, current_staff().id, datetime.now(UTC))
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("console.login"), code=303)
