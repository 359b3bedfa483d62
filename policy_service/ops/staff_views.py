"""Staff accounts (admins only): list, add, change role, disable and enable."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from policy_service.domain.errors import ServiceError
from policy_service.presentation.errors import status_of
from policy_service.services import staff as svc_staff

from .blueprint import _, bp, now, render_page, svc
from .security import current_staff, roles_required


def _page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    accounts = svc_staff.list_accounts(svc().uow, current_staff())
    return render_page(
        "staff.html",
        status,
        accounts=accounts,
        roles=svc_staff.ROLES,
        error=error,
        form=request.form if request.method == "POST" else {},
        min_password=svc_staff.MIN_PASSWORD,
    )


@bp.get("/staff")
@roles_required("admin")
def staff_accounts() -> ResponseReturnValue:
    return _page()


def _saved() -> ResponseReturnValue:
    flash(_("The staff account was saved."), "ok")
    return redirect(url_for("console.staff_accounts"), code=303)


@bp.post("/staff")
@roles_required("admin")
def add_staff() -> ResponseReturnValue:
    form = request.form
    try:
        svc_staff.add_account(
            svc().uow,
            current_staff(),
            form.get("email", ""),
            form.get("role", ""),
            form.get("password", ""),
            now(),
        )
    except ServiceError as exc:
        return _page(status_of(exc), exc.described)
    return _saved()


@bp.post("/staff/<staff_id>")
@roles_required("admin")
def change_staff(staff_id: str) -> ResponseReturnValue:
    action = request.form.get("action")
    try:
        svc_staff.change_account(
            svc().uow,
            current_staff(),
            staff_id,
            now(),
            role=request.form.get("role") if action == "role" else None,
            disabled={"disable": True, "enable": False}.get(action or ""),
        )
    except ServiceError as exc:
        return _page(status_of(exc), exc.described)
    return _saved()
