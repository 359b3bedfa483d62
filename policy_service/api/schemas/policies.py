"""Policies: issue (one or a batch), read, list, cancel."""

from __future__ import annotations

from marshmallow import fields, validate

from policy_service.domain.lifecycle import POLICY_STATUSES
from policy_service.domain.policyholder import ID_TYPES
from policy_service.domain.records import CANCEL_REASONS

from .claims import ClaimSchema
from .common import (
    MAX_BATCH,
    CoverageSchema,
    EditionRefSchema,
    ErrorDetailSchema,
    ListEnvelope,
    MoneySchema,
    PremiumSchema,
    RefundTermSchema,
    Strict,
    Worksheet,
)


class PolicyholderSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    id_type = fields.String(required=True, validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(
        required=True,
        load_only=True,
        metadata={
            "description": "checked, then kept only as a keyed hash and its last 4 characters"
        },
    )
    phone = fields.String(allow_none=True)


class PolicyholderViewSchema(Strict):
    name = fields.String(required=True)
    id_type = fields.String(required=True)
    id_last4 = fields.String(required=True)
    phone = fields.String(allow_none=True, required=True)


class IssueRequestSchema(Strict):
    """Issue from a quote ({quote, external_ref?, policyholder?}) or directly
    ({product, risk, external_ref, policyholder?})."""

    quote = fields.String(
        metadata={"description": "a quote id; its premium is held until it expires"}
    )
    product = fields.String(metadata={"example": "flight_delay"})
    risk = fields.Dict()
    external_ref = fields.String(
        metadata={
            "description": "your order or booking id; one policy per product and external_ref"
        }
    )
    policyholder = fields.Nested(PolicyholderSchema)
    payment_method = fields.String(
        metadata={
            "description": "stripe billing only: the PaymentMethod (pm_...) charged the premium"
        }
    )


class CancellationSchema(Strict):
    reason = fields.String(
        required=True,
        metadata={
            "description": "the reason given, or trigger_refund: a claim rule voided the "
            "policy with its whole premium refunded (e.g. a flight cancelled long ahead)"
        },
    )
    cancelled_at = fields.DateTime(required=True)
    refund = fields.Nested(MoneySchema, required=True)


class PolicySchema(Strict):
    id = fields.String(required=True, metadata={"example": "pol_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("policy", required=True)
    livemode = fields.Boolean(required=True)
    product = fields.String(required=True)
    edition = fields.Nested(EditionRefSchema, required=True)
    quote = fields.String(allow_none=True, required=True)
    external_ref = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(POLICY_STATUSES),
    )
    risk = fields.Dict(required=True)
    policyholder = fields.Nested(PolicyholderViewSchema, allow_none=True, required=True)
    premium = fields.Nested(PremiumSchema, required=True)
    coverage = fields.Nested(CoverageSchema, required=True)
    refund_terms = fields.List(fields.Nested(RefundTermSchema), allow_none=True, required=True)
    worksheet = Worksheet(required=True)
    cancellation = fields.Nested(CancellationSchema, allow_none=True, required=True)
    payment_intent = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "stripe billing: the PaymentIntent"},
    )
    claims = fields.List(
        fields.Nested(ClaimSchema),
        metadata={"description": "the policy's claims, oldest first (only with ?expand=claims)"},
    )
    version = fields.Integer(
        required=True,
        metadata={
            "description": "1 as issued, one more per endorsement (GET "
            "/v1/policies/{id}/endorsements lists them)"
        },
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class PolicyListSchema(ListEnvelope):
    data = fields.List(fields.Nested(PolicySchema), required=True)


class PolicyGetArgsSchema(Strict):
    expand = fields.List(
        fields.String(validate=validate.OneOf(["claims"])),
        metadata={"description": "claims: the policy's claims too (needs claims:read)"},
    )


class PolicyListArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String(metadata={"description": "a policy id: the page after it"})
    external_ref = fields.String()
    status = fields.String(validate=validate.OneOf(POLICY_STATUSES))
    product = fields.String()
    policyholder_id_number = fields.String(
        metadata={
            "description": "a person's policies, of every product, by their ID number "
            "(matched through its keyed hash; the number is never stored)"
        }
    )
    policyholder_id_type = fields.String(
        validate=validate.OneOf(ID_TYPES),
        metadata={"description": "with policyholder_id_number; default: any type"},
    )
    policyholder_phone = fields.String()
    policyholder_name = fields.String(metadata={"description": "the exact name"})


class EndorsementRequestSchema(Strict):
    """The changes: risk inputs and policyholder details the product lets change (GET
    /v1/products/{code} `endorsements`); what is not named keeps its value."""

    risk = fields.Dict(metadata={"example": {"flight_number": "MU5103"}})
    policyholder = fields.Dict(
        metadata={"description": "name and/or phone (null removes the phone)"}
    )
    payment_method = fields.String(
        metadata={
            "description": "stripe billing: the card to charge when the change raises the "
            "premium (default: the one that paid the premium)",
            "example": "pm_card_visa",
        }
    )


class _Coverage(Strict):
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)


class _Change(Strict):
    # "from" is a keyword: the schema's fields are named by data_key
    before = fields.Raw(required=True, allow_none=True, data_key="from")
    after = fields.Raw(required=True, allow_none=True, data_key="to")


class EndorsementSchema(Strict):
    id = fields.String(required=True, metadata={"example": "end_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("endorsement", required=True)
    livemode = fields.Boolean(required=True)
    policy = fields.Raw(
        required=True,
        metadata={
            "description": "the policy after the change (in the 201 answer and the "
            "policy.endorsed event), or its id (in a list)"
        },
    )
    version = fields.Integer(
        required=True, metadata={"description": "the policy's version it made"}
    )
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(_Change),
        required=True,
        metadata={"example": {"risk.flight_number": {"from": "MU5101", "to": "MU5103"}}},
    )
    premium_before = fields.Nested(PremiumSchema, required=True)
    premium_after = fields.Nested(PremiumSchema, required=True)
    premium_difference = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "more premium (positive) or premium given back (negative)"},
    )
    coverage_before = fields.Nested(_Coverage, required=True)
    coverage_after = fields.Nested(_Coverage, required=True)
    created_at = fields.DateTime(required=True)


class EndorsementListSchema(ListEnvelope):
    data = fields.List(fields.Nested(EndorsementSchema), required=True)


class CancelRequestSchema(Strict):
    reason = fields.String(required=True, validate=validate.OneOf(CANCEL_REASONS))


class BatchItemSchema(IssueRequestSchema):
    idempotency_key = fields.String(
        validate=validate.Length(1, 255),
        metadata={"description": "as the Idempotency-Key of a single POST /v1/policies"},
    )


class BatchRequestSchema(Strict):
    # Items are validated one by one by the service, so one bad item fails alone.
    items = fields.List(
        fields.Raw(allow_none=True, metadata={"description": "a BatchItem", "type": "object"}),
        required=True,
        validate=validate.Length(1, MAX_BATCH),
    )


class BatchResultSchema(Strict):
    index = fields.Integer(required=True)
    status = fields.Integer(required=True, metadata={"description": "HTTP status of this item"})
    replayed = fields.Boolean(required=True)
    policy = fields.Nested(PolicySchema)
    error = fields.Nested(ErrorDetailSchema)


class BatchResponseSchema(Strict):
    object = fields.Constant("batch_result", required=True)
    results = fields.List(fields.Nested(BatchResultSchema), required=True)
    issued = fields.Integer(required=True)
    failed = fields.Integer(required=True)
