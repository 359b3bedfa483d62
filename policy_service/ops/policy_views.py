"""Policy search and the policy page (claims, events, webhook deliveries)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from policy_service.domain.errors import ServiceError
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.presentation.errors import status_of
from policy_service.services import policy_search
from policy_service.services.partners import partner_names

from .blueprint import bp, render_page, svc

_PAGE = 50


@bp.get("/policies")
def policies() -> ResponseReturnValue:
    context: dict[str, Any] = {
        "products": [p.code for p in svc().catalog.all()],
        "statuses": [str(s) for s in PolicyStatus],
        "partners": partner_names(svc().uow),
        "searched": bool(request.args),
        "found": None,
    }
    try:
        query = policy_search.PolicyQuery.parse(request.args, svc().config.pii_hash_key)
    except ServiceError as exc:
        return render_page("policies.html", status_of(exc), error=exc.described, **context)
    context["found"] = policy_search.search(
        svc().uow,
        query,
        svc().config.settlement_timezone,
        _PAGE,
        request.args.get("starting_after") or None,
    )
    return render_page("policies.html", **context)


@bp.get("/policies/<policy_id>")
def policy(policy_id: str) -> ResponseReturnValue:
    view = policy_search.policy_view(svc().uow, svc().catalog, policy_id)
    return render_page("policy.html", v=view, p=view.policy)
