"""The review queue, the claim page and the staff decisions on it."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue

from policy_service.domain.claims import REJECT_CODES, SIGNAL_CODES
from policy_service.domain.errors import ServiceError
from policy_service.presentation.errors import status_of
from policy_service.services import attachments, claim_decisions, review
from policy_service.services import claims as svc_claims

from .blueprint import _, bp, now, render_page, svc
from .security import current_staff

_PAGE = 50


@bp.get("/claims")
def queue() -> ResponseReturnValue:
    products = [p.code for p in svc().catalog.all()]
    template = "queue.html"
    context: dict[str, Any] = {
        "products": products,
        "signals": SIGNAL_CODES,
        "partners": {},
        "found": None,
    }
    try:
        f = review.QueueFilter.parse(request.args)
    except ServiceError as exc:
        return render_page(template, status_of(exc), filter_error=exc.described, **context)
    context["found"] = review.queue(svc().uow, f, _PAGE, request.args.get("starting_after") or None)
    context["partners"] = context["found"].partner_names
    return render_page(template, filters=f, **context)


def _claim_page(claim_id: str, status: int = 200, **extra: Any) -> ResponseReturnValue:
    detail = review.review_detail(svc().claims(), claim_id)
    return render_page(
        "claim.html",
        status,
        d=detail,
        c=detail.claim,
        reject_codes=REJECT_CODES,
        form=request.form if request.method == "POST" else {},
        **extra,
    )


@bp.get("/claims/<claim_id>")
def claim(claim_id: str) -> ResponseReturnValue:
    return _claim_page(claim_id)


def _decide(claim_id: str, decision: claim_decisions.Decision) -> ResponseReturnValue:
    who = current_staff()
    actor = svc_claims.Actor("staff", who.id, who.role, who.email)
    try:
        claim_decisions.decide(svc().claims(), claim_id, actor, decision, now())
    except ServiceError as exc:
        # The page again, with what was typed and what went wrong; nothing was saved.
        message = exc.described
        return _claim_page(claim_id, status_of(exc), error=message)
    flash(_("The decision was saved."), "ok")
    return redirect(url_for("console.claim", claim_id=claim_id), code=303)


def _text(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


@bp.post("/claims/<claim_id>/approve")
def approve(claim_id: str) -> ResponseReturnValue:
    return _decide(claim_id, claim_decisions.Decision("approve", _text("amount"), _text("reason")))


@bp.post("/claims/<claim_id>/reject")
def reject(claim_id: str) -> ResponseReturnValue:
    return _decide(
        claim_id,
        claim_decisions.Decision(
            "reject", reason=_text("reason"), reject_code=_text("reject_code")
        ),
    )


@bp.post("/claims/<claim_id>/request-info")
def request_info(claim_id: str) -> ResponseReturnValue:
    return _decide(claim_id, claim_decisions.Decision("request_info", reason=_text("reason")))


@bp.post("/claims/<claim_id>/retry-payout")
def retry_payout(claim_id: str) -> ResponseReturnValue:
    return _decide(claim_id, claim_decisions.Decision("retry_payout"))


@bp.get("/claims/<claim_id>/attachments/<attachment_id>")
def attachment(claim_id: str, attachment_id: str) -> ResponseReturnValue:
    row, path = attachments.attachment_file(svc().claims(), claim_id, attachment_id)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.file_name,
        max_age=0,
    )
    # Whatever a partner uploaded, it never runs as a page of the console.
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
