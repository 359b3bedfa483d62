"""Incidents: the trigger reports (a flight's status, a parcel's pickup) and, for one of
them, every policy it concerns with its claim and payout."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from policy_service.domain.claims import TRIGGER_STATUSES
from policy_service.domain.errors import InvalidRequest, ServiceError
from policy_service.presentation.errors import status_of
from policy_service.services import incidents, query_args
from policy_service.services.partners import partner_names

from .blueprint import bp, render_page, svc

_PAGE = 50


def _day(name: str) -> date | None:
    raw = query_args.text(request.args, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest("must be a date: YYYY-MM-DD", param=name) from None


def _query() -> incidents.TriggerQuery:
    subject = query_args.text(request.args, "subject")
    return incidents.TriggerQuery(
        query_args.one_of(request.args, "type", [t.name for t in svc().catalog.trigger_types()]),
        query_args.one_of(request.args, "status", TRIGGER_STATUSES),
        _day("date_from"),
        _day("date_to"),
        incidents.parse_subject(subject.split() if subject else []),
    )


@bp.get("/incidents")
def incident_list() -> ResponseReturnValue:
    context: dict[str, Any] = {
        "types": [t.name for t in svc().catalog.trigger_types()],
        "statuses": TRIGGER_STATUSES,
        "found": None,
        "more": False,
    }
    try:
        query = _query()
        livemode = query_args.livemode(request.args)
    except ServiceError as exc:
        return render_page("incidents.html", status_of(exc), error=exc.described, **context)
    context["found"], context["more"] = incidents.list_trigger_events(
        svc().uow,
        None,
        query,
        svc().config.settlement_timezone,
        _PAGE,
        request.args.get("starting_after") or None,
        livemode,
    )
    return render_page("incidents.html", **context)


@bp.get("/incidents/<trigger_id>")
def incident(trigger_id: str) -> ResponseReturnValue:
    found = incidents.incident(svc().uow, svc().catalog, trigger_id)
    return render_page("incident.html", i=found, r=found.report, partners=partner_names(svc().uow))
