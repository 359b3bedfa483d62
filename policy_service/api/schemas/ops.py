"""The ops review API: the queue, a claim with everything a reviewer needs, decisions."""

from __future__ import annotations

from marshmallow import fields, validate

from policy_service.domain.claims import (
    CLAIM_STATUSES,
    PAYOUT_METHODS,
    PAYOUT_STATUSES,
    REJECT_CODES,
    SIGNAL_CODES,
)

from .claims import AttachmentSchema, ClaimSchema
from .common import ListEnvelope, MoneySchema, Strict
from .policies import PolicySchema


class OpsQueueArgsSchema(Strict):
    limit = fields.Integer(load_default=25, validate=validate.Range(1, 100))
    starting_after = fields.String(metadata={"description": "a claim id: the page after it"})
    status = fields.String(load_default="in_review", validate=validate.OneOf(CLAIM_STATUSES))
    product = fields.String()
    partner = fields.String()
    signal = fields.String(
        validate=validate.OneOf(SIGNAL_CODES), metadata={"description": "claims with this signal"}
    )
    amount_min = fields.String(metadata={"description": 'amount claimed at least, e.g. "100.00"'})
    amount_max = fields.String(metadata={"description": 'amount claimed at most, e.g. "500.00"'})
    mode = fields.String(validate=validate.OneOf(["live", "test"]))


class PayoutSchema(Strict):
    id = fields.String(required=True)
    sequence = fields.Integer(
        required=True, metadata={"description": "1 for the first payout, 2 for a first top-up"}
    )
    method = fields.String(required=True, validate=validate.OneOf(PAYOUT_METHODS))
    status = fields.String(required=True, validate=validate.OneOf(PAYOUT_STATUSES))
    amount = fields.Nested(MoneySchema, required=True)
    stripe_refund = fields.String(allow_none=True, required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True, required=True)
    updated_at = fields.DateTime(required=True)


class AuditEntrySchema(Strict):
    at = fields.DateTime(required=True)
    actor = fields.Dict(required=True, metadata={"description": "{type, id}"})
    action = fields.String(required=True)
    from_status = fields.String(allow_none=True, required=True)
    to_status = fields.String(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)
    before = fields.Dict(allow_none=True, required=True)
    after = fields.Dict(allow_none=True, required=True)


class OpsClaimSchema(ClaimSchema):
    partner = fields.String(required=True)
    first_approval = fields.Dict(allow_none=True, required=True)
    decided_by = fields.String(allow_none=True, required=True)


class OpsClaimDetailSchema(Strict):
    claim = fields.Nested(OpsClaimSchema, required=True)
    policy = fields.Nested(PolicySchema, required=True)
    payout = fields.Nested(
        PayoutSchema,
        allow_none=True,
        required=True,
        metadata={"description": "the latest payout (see payouts)"},
    )
    payouts = fields.List(
        fields.Nested(PayoutSchema),
        required=True,
        metadata={"description": "every payout, first one first; a top-up adds one"},
    )
    attachments = fields.List(fields.Nested(AttachmentSchema), required=True)
    audit = fields.List(fields.Nested(AuditEntrySchema), required=True)
    related = fields.List(
        fields.Nested(OpsClaimSchema),
        required=True,
        metadata={"description": "other claims of the same policyholder or evidence"},
    )
    second_approval_above = fields.Nested(MoneySchema, required=True)


class OpsClaimListSchema(ListEnvelope):
    data = fields.List(fields.Nested(OpsClaimSchema), required=True)


class ApproveRequestSchema(Strict):
    amount = fields.Nested(
        MoneySchema, metadata={"description": "default: the amount claimed; else say why"}
    )
    reason = fields.String()


class RejectRequestSchema(Strict):
    reject_code = fields.String(required=True, validate=validate.OneOf(REJECT_CODES))
    reason = fields.String(required=True)


class RequestInfoSchema(Strict):
    reason = fields.String(
        required=True, metadata={"description": "what is needed, for the partner"}
    )
