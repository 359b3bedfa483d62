"""Trigger events: a fact about the world (a flight's status, a shipment's pickup) that
settles every policy it concerns; and the list of them, for a partner's incidents."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.errors import InvalidRequest, NotFound, PermissionDenied
from policy_service.domain.records import Caller
from policy_service.presentation import render
from policy_service.services import incidents, metrics, triggers

from .context import caller, services
from .docs import errors
from .idempotency import ok
from .schemas import (
    TriggerEventListArgsSchema,
    TriggerEventListSchema,
    TriggerEventRequestSchema,
    TriggerEventSchema,
)

blp = Blueprint(
    "trigger_events",
    __name__,
    url_prefix="/v1/trigger-events",
    description="Trigger events: facts from data providers that decide claims",
)


#: a settlement's counts that are claims decided (metric policy_service_claims_total)
_CLAIM_OUTCOMES = ("paid", "approved", "in_review", "not_covered", "outside_cover", "refunded")


def _reader() -> Caller:
    """A partner reads incidents with claims:read; a data provider (or a partner's test
    key that simulates reports) lists what it posted."""
    try:
        return caller("claims:read")
    except PermissionDenied:
        return caller("trigger_events:write")


@blp.route("")
class TriggerEvents(MethodView):
    @blp.arguments(TriggerEventListArgsSchema(), location="query")
    @blp.response(200, TriggerEventListSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """Trigger events, newest first: a partner's are those that decided a claim on its
        policies (and, in test mode, those it posted); a data provider's, those it posted.
        Filters: type, status, observed dates, and fields of the fact
        (subject=flight_number:MU5101, repeatable)."""
        who = _reader()
        svc = services()
        first, last = args.get("observed_from"), args.get("observed_to")
        if first and last and first > last:
            raise InvalidRequest("must not be after observed_to", param="observed_from")
        query = incidents.TriggerQuery(
            args.get("type"),
            args.get("status"),
            args.get("observed_from"),
            args.get("observed_to"),
            incidents.parse_subject(args.get("subject", [])),
        )
        rows, more = incidents.list_trigger_events(
            svc.uow,
            who,
            query,
            svc.config.settlement_timezone,
            args["limit"],
            args.get("starting_after"),
        )
        mine = who.provider_id or who.partner_id
        data = [
            # what a report did is the poster's to read: it counts every partner's policies
            render.trigger_event(r) | ({} if r.source_id == mine else {"result": None})
            for r in rows
        ]
        return ok(render.page(data, more, "/v1/trigger-events"))

    @blp.arguments(TriggerEventRequestSchema())
    @blp.response(201, TriggerEventSchema)
    @blp.alt_response(200, schema=TriggerEventSchema, description="the same report, posted before")
    @errors(blp, 400, 403, 413)
    def post(self, body: dict[str, Any]) -> Response:
        """Post a fact. Live mode: data-provider keys (dk_live_...) only. Test mode: a
        partner's test key may post too, and then touches only that partner's test
        policies. The same report posted again is answered 200 with the first event and
        changes nothing; a later report on the same flight or order corrects the earlier
        one without paying twice."""
        who = caller("trigger_events:write")
        svc = services()
        row, created = triggers.post_trigger(svc.claims(), who, body, svc.clock())
        if created and row.status == "processed":
            result = row.result or {}
            metrics.settled(
                row.type,
                int(result.get("matched", 0)),
                {k: int(v) for k, v in result.items() if k in _CLAIM_OUTCOMES},
            )
        return ok(render.trigger_event(row), 201 if created else 200)


@blp.route("/<trigger_id>")
class TriggerEventById(MethodView):
    @blp.response(200, TriggerEventSchema)
    @errors(blp, 403, 404)
    def get(self, trigger_id: str) -> Response:
        """A trigger event you posted, with what it did"""
        who = caller("trigger_events:write")
        row = triggers.get_trigger(services().uow, who, trigger_id)
        if row is None:
            raise NotFound(f"no trigger event {trigger_id}")
        return ok(render.trigger_event(row))
