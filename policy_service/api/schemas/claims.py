"""Trigger events, claims and their attachments."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from policy_service.domain.claims import (
    CLAIM_ORIGINS,
    CLAIM_STATUSES,
    DECIDED_BY,
    SIGNAL_CODES,
    TRIGGER_STATUSES,
)

from .common import EditionRefSchema, ListEnvelope, MoneySchema, Strict


class TriggerEventRequestSchema(Strict):
    type = fields.String(
        required=True,
        metadata={
            "description": "a trigger type in force (GET /openapi.json lists them)",
            "example": "flight.status",
        },
    )
    data = fields.Dict(
        required=True,
        metadata={
            "description": "the fact; its fields depend on the type (see the trigger schemas)",
            "example": {
                "carrier": "MU",
                "flight_number": "MU5101",
                "scheduled_departure": "2026-12-01T08:00:00+08:00",
                "status": "delayed",
                "delay_minutes": 187,
            },
        },
    )
    observed_at = fields.String(
        metadata={
            "description": "when the provider observed the fact (default: now); of two "
            "reports about one subject, the later observed one counts. Live mode refuses "
            "one in the future; a test key may post one (a simulated clock: judged as if "
            "observed then, on test policies only)",
            "format": "date-time",
        }
    )


class TriggerEventSchema(Strict):
    id = fields.String(required=True, metadata={"example": "trg_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("trigger_event", required=True)
    livemode = fields.Boolean(required=True)
    type = fields.String(required=True)
    data = fields.Dict(required=True)
    observed_at = fields.DateTime(required=True)
    received_at = fields.DateTime(required=True)
    event_time = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "when the reported loss happened, by the trigger type's rule "
            "(flight.status: the scheduled departure plus delay_minutes, else when the "
            "fact was first observed; shipment.return: picked_up_at)"
        },
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(TRIGGER_STATUSES),
        metadata={
            "description": "superseded: a later observed report was already applied; "
            "premature: observed before its event_time (the loss cannot have happened "
            "yet): kept, changed nothing"
        },
    )
    result = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "null in a list, for a report you did not post (it settled other "
            "partners' policies too: your claims show what it did to yours); else: "
            "matched policies, claims created, paid, approved (payout "
            "pending), in_review, not_covered, outside_cover (the loss was outside the "
            "policy's cover), refunded (policies voided with their premium refunded), "
            "corrected, topped_up (paying claims raised to a higher tier), "
            "rejected_by_correction, unchanged; for a premature report its event_time and "
            "the reason"
        },
    )


class SignalSchema(Strict):
    code = fields.String(required=True, validate=validate.OneOf(list(SIGNAL_CODES)))
    reason = fields.String(required=True)


class ClaimReviewSchema(Strict):
    information_requested_at = fields.DateTime(allow_none=True, required=True)
    second_approval_pending = fields.Boolean(required=True)


class ClaimDecisionSchema(Strict):
    decided_at = fields.DateTime(required=True)
    by = fields.String(required=True, validate=validate.OneOf(DECIDED_BY))
    reason = fields.String(allow_none=True, required=True)
    reject_code = fields.String(allow_none=True, required=True)


class AttachmentSchema(Strict):
    id = fields.String(required=True, metadata={"example": "att_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("claim_attachment", required=True)
    claim = fields.String(required=True)
    file_name = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class ClaimSchema(Strict):
    id = fields.String(required=True, metadata={"example": "clm_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("claim", required=True)
    livemode = fields.Boolean(required=True)
    policy = fields.String(required=True)
    product = fields.String(required=True)
    edition = fields.Nested(EditionRefSchema, required=True)
    origin = fields.String(required=True, validate=validate.OneOf(CLAIM_ORIGINS))
    type = fields.String(required=True, metadata={"description": "the benefit claimed"})
    status = fields.String(required=True, validate=validate.OneOf(CLAIM_STATUSES))
    amount_claimed = fields.Nested(MoneySchema, allow_none=True, required=True)
    amount_approved = fields.Nested(MoneySchema, allow_none=True, required=True)
    amount_paid = fields.Nested(MoneySchema, allow_none=True, required=True)
    description = fields.String(allow_none=True, required=True)
    evidence = fields.Dict(required=True)
    trigger_event = fields.String(allow_none=True, required=True)
    observed_at = fields.DateTime(allow_none=True, required=True)
    event_time = fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "when the loss happened, as its trigger reported it"},
    )
    evaluation = fields.Dict(
        allow_none=True,
        required=True,
        metadata={
            "description": "the automatic decision: trigger data, edition and hash, every "
            "rule checked with the values it compared, the payout and the result"
        },
    )
    corrections = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "later reports on the same loss, after the decision; a top-up "
            "carries top_up: the amount paid on top"
        },
    )
    signals = fields.List(fields.Nested(SignalSchema), required=True)
    review = fields.Nested(ClaimReviewSchema, required=True)
    decision = fields.Nested(ClaimDecisionSchema, allow_none=True, required=True)
    paid_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    attachments = fields.List(
        fields.Nested(AttachmentSchema), metadata={"description": "in GET /v1/claims/{id}"}
    )


class ClaimListSchema(ListEnvelope):
    data = fields.List(fields.Nested(ClaimSchema), required=True)


class ClaimListArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String(metadata={"description": "a claim id: the page after it"})
    policy = fields.String()
    status = fields.String(validate=validate.OneOf(CLAIM_STATUSES))
    trigger_event = fields.String(
        metadata={"description": "claims decided by this trigger event (trg_...)"}
    )


class TriggerEventListArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String(
        metadata={"description": "a trigger event id: the page after it"}
    )
    type = fields.String(metadata={"example": "flight.status"})
    status = fields.String(validate=validate.OneOf(TRIGGER_STATUSES))
    observed_from = fields.Date(
        metadata={"description": "observed on or after this day (settlement time zone)"}
    )
    observed_to = fields.Date(metadata={"description": "observed on or before this day"})
    subject = fields.List(
        fields.String(),
        metadata={
            "description": "NAME:VALUE, repeatable: a field of the fact equal to this text, "
            "e.g. flight_number:MU5101"
        },
    )


class TriggerEventListSchema(ListEnvelope):
    data = fields.List(fields.Nested(lambda: TriggerEventSchema()), required=True)


class ClaimRequestSchema(Strict):
    policy = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "a benefit code of the policy"})
    description = fields.String(required=True)
    evidence = fields.Dict(
        metadata={"description": "anything that supports the claim, e.g. tracking_number"}
    )
    amount_claimed = fields.Nested(MoneySchema)


class AttachmentUploadSchema(ma.Schema):
    file = Upload(required=True)
