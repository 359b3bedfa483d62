"""Request and response schemas (marshmallow). Requests are parsed with them; responses are
documented with them and a test checks real responses against the generated OpenAPI."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from policy_service.domain.claims import REJECT_CODES, SIGNAL_CODES
from policy_service.domain.policyholder import ID_TYPES
from policy_service.domain.records import CANCEL_REASONS
from pricing.triggers import TRIGGER_TYPES

MAX_BATCH = 1000


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# -- shared --------------------------------------------------------------------------


class ListEnvelope(Strict):
    """The one list shape (api.render.page); subclasses say what `data` holds."""

    object = fields.Constant("list", required=True)
    has_more = fields.Boolean(required=True)
    url = fields.String(required=True)


class MoneySchema(Strict):
    amount = fields.String(
        required=True, metadata={"example": "12.30", "pattern": r"^-?\d+(\.\d+)?$"}
    )
    currency = fields.String(required=True, metadata={"example": "CNY"})


class ErrorDetailSchema(Strict):
    type = fields.String(required=True, metadata={"example": "invalid_request"})
    code = fields.String(required=True, metadata={"example": "invalid_input"})
    message = fields.String(required=True)
    param = fields.String(metadata={"example": "risk.order_value"})
    errors = fields.List(
        fields.Dict(), metadata={"description": "every invalid field, first one first"}
    )
    reasons = fields.List(
        fields.Dict(), metadata={"description": "eligibility reason codes (422 ineligible)"}
    )
    policy = fields.String(
        allow_none=True, metadata={"description": "the conflicting policy (409)"}
    )


class ErrorSchema(Strict):
    error = fields.Nested(ErrorDetailSchema, required=True)


class EditionRefSchema(Strict):
    id = fields.String(required=True, metadata={"example": "2026-11"})
    content_hash = fields.String(required=True, metadata={"example": "sha256:9f2c..."})


class PremiumSchema(Strict):
    total = fields.Nested(MoneySchema, required=True)
    net = fields.Nested(MoneySchema, required=True)
    tax = fields.Nested(MoneySchema, required=True)
    commission = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)


class BenefitSchema(Strict):
    code = fields.String(required=True)
    description = fields.String(required=True)
    amount = fields.Nested(MoneySchema)
    limit = fields.Nested(MoneySchema)


class CoverageSchema(Strict):
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    benefits = fields.List(fields.Nested(BenefitSchema), allow_none=True, required=True)


class RefundTermSchema(Strict):
    when = fields.String(allow_none=True, required=True)
    refund = fields.String(
        required=True, metadata={"description": "full, none, pro_rata or a ratio"}
    )
    description = fields.String(required=True)


class Worksheet(fields.Dict):
    """The rating worksheet: inputs, derived values and every step to the total."""


# -- products -------------------------------------------------------------------------


class CurrentEditionSchema(Strict):
    id = fields.String(required=True)
    content_hash = fields.String(required=True)
    effective_from = fields.DateTime(required=True)
    currency = fields.String(required=True)
    quote_valid_minutes = fields.Integer(required=True)


class EditionSummarySchema(Strict):
    id = fields.String(required=True)
    effective_from = fields.DateTime(required=True)
    content_hash = fields.String(required=True)


class EligibilitySchema(Strict):
    code = fields.String(required=True)
    message = fields.String(required=True)


class DuplicateCoverSchema(Strict):
    subject = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "the inputs (or external_ref) naming the insured thing"},
    )
    per_insured = fields.Boolean(
        required=True, metadata={"description": "one cover per insured person on that subject"}
    )


class ProductSchema(Strict):
    code = fields.String(required=True, metadata={"example": "flight_delay"})
    object = fields.Constant("product", required=True)
    name = fields.String(required=True)
    name_zh = fields.String(required=True)
    description = fields.String(required=True)
    policyholder = fields.String(
        required=True, validate=validate.OneOf(["required", "optional", "none"])
    )
    duplicate_cover = fields.Nested(
        DuplicateCoverSchema,
        allow_none=True,
        required=True,
        metadata={
            "description": "a second policy on the same subject is refused (duplicate_cover)"
        },
    )
    current_edition = fields.Nested(
        CurrentEditionSchema,
        allow_none=True,
        required=True,
        metadata={"description": "the edition new quotes and policies are priced on now"},
    )
    editions = fields.List(
        fields.Nested(EditionSummarySchema),
        required=True,
        metadata={
            "description": "the published editions by effective_from: past ones (policies keep "
            "theirs), the current one and any scheduled to come into force; an edition file "
            "nobody published is not listed"
        },
    )
    risk_schema = fields.Dict(
        allow_none=True, required=True, metadata={"description": "JSON Schema of `risk`"}
    )
    example_risk = fields.Dict(
        allow_none=True, required=True, metadata={"description": "a risk that quotes successfully"}
    )
    eligibility = fields.List(fields.Nested(EligibilitySchema), required=True)
    benefits = fields.List(fields.Nested(BenefitSchema), allow_none=True, required=True)
    refund_terms = fields.List(fields.Nested(RefundTermSchema), allow_none=True, required=True)


class ProductListSchema(ListEnvelope):
    data = fields.List(fields.Nested(ProductSchema), required=True)


# -- quotes ---------------------------------------------------------------------------


class QuoteRequestSchema(Strict):
    product = fields.String(required=True, metadata={"example": "return_shipping"})
    risk = fields.Dict(
        required=True,
        metadata={"description": "the product's inputs; see GET /v1/products/{code} risk_schema"},
    )
    external_ref = fields.String(
        validate=validate.Length(1, 200), metadata={"description": "your order or booking id"}
    )


class QuoteSchema(Strict):
    id = fields.String(required=True, metadata={"example": "qt_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("quote", required=True)
    livemode = fields.Boolean(required=True)
    product = fields.String(required=True)
    edition = fields.Nested(EditionRefSchema, required=True)
    external_ref = fields.String(allow_none=True, required=True)
    risk = fields.Dict(required=True)
    premium = fields.Nested(PremiumSchema, required=True)
    coverage = fields.Nested(CoverageSchema, required=True)
    refund_terms = fields.List(fields.Nested(RefundTermSchema), allow_none=True, required=True)
    worksheet = Worksheet(required=True)
    expires_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)


# -- policies -------------------------------------------------------------------------


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
        validate=validate.OneOf(
            ["pending_payment", "active", "payment_failed", "cancelled", "expired"]
        ),
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
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class PolicyListSchema(ListEnvelope):
    data = fields.List(fields.Nested(PolicySchema), required=True)


class PolicyListArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String(metadata={"description": "a policy id: the page after it"})
    external_ref = fields.String()
    status = fields.String(
        validate=validate.OneOf(
            ["pending_payment", "active", "payment_failed", "cancelled", "expired"]
        )
    )
    product = fields.String()


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


# -- events and webhooks --------------------------------------------------------------


class EventDataSchema(Strict):
    object = fields.Dict(required=True, metadata={"description": "the object after the change"})


class EventSchema(Strict):
    id = fields.String(required=True, metadata={"example": "evt_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("event", required=True)
    type = fields.String(required=True, metadata={"example": "policy.issued"})
    created = fields.DateTime(required=True)
    livemode = fields.Boolean(required=True)
    data = fields.Nested(EventDataSchema, required=True)


class EventListSchema(ListEnvelope):
    data = fields.List(fields.Nested(EventSchema), required=True)


class EventListArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String(metadata={"description": "an event id: the page after it"})
    type = fields.List(
        fields.String(), metadata={"description": "event type(s); repeat to give several"}
    )
    object = fields.String(metadata={"description": "only events about this object id"})


class AttemptSchema(Strict):
    number = fields.Integer(required=True)
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True, required=True)
    outcome = fields.String(
        required=True, validate=validate.OneOf(["in_progress", "succeeded", "failed", "abandoned"])
    )
    status_code = fields.Integer(allow_none=True, required=True)
    latency_ms = fields.Integer(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)
    response_excerpt = fields.String(allow_none=True, required=True)
    next_retry_at = fields.DateTime(allow_none=True, required=True)


class DeliverySchema(Strict):
    id = fields.String(required=True)
    object = fields.Constant("webhook_delivery", required=True)
    event = fields.String(required=True)
    endpoint = fields.String(required=True)
    url = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(["pending", "succeeded", "failed"])
    )
    attempt_count = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(allow_none=True, required=True)
    delivered_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    attempts = fields.List(fields.Nested(AttemptSchema), required=True)


class DeliveryListSchema(ListEnvelope):
    data = fields.List(fields.Nested(DeliverySchema), required=True)


class ResendRequestSchema(Strict):
    endpoint = fields.String(
        metadata={"description": "only this endpoint; default every enabled endpoint subscribed"}
    )


class WebhookEndpointSchema(Strict):
    deleted = fields.Boolean(metadata={"description": "true in the answer to DELETE"})
    id = fields.String(required=True, metadata={"example": "whe_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("webhook_endpoint", required=True)
    livemode = fields.Boolean(required=True)
    url = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    events = fields.List(fields.String(), required=True)
    status = fields.String(required=True, validate=validate.OneOf(["enabled", "disabled"]))
    disabled_reason = fields.String(allow_none=True, required=True)
    secret = fields.String(
        metadata={"description": "the signing secret: only in the answers to create and rotate"}
    )
    previous_secret_expires_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WebhookEndpointListSchema(ListEnvelope):
    data = fields.List(fields.Nested(WebhookEndpointSchema), required=True)


class WebhookEndpointCreateSchema(Strict):
    url = fields.String(required=True, metadata={"example": "https://example.com/hooks/insurance"})
    events = fields.List(fields.String(), required=True, metadata={"example": ["*"]})
    description = fields.String(allow_none=True)


class WebhookEndpointUpdateSchema(Strict):
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(allow_none=True)
    disabled = fields.Boolean()


class PageArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String()


# -- statements ----------------------------------------------------------------------


class StatementArgsSchema(Strict):
    period = fields.String(required=True, metadata={"example": "2026-11", "description": "YYYY-MM"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class StatementFormatSchema(Strict):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class StatementLineSchema(Strict):
    policy = fields.String(required=True)
    external_ref = fields.String(required=True)
    product = fields.String(required=True)
    premium = fields.Nested(MoneySchema, required=True)
    tax = fields.Nested(MoneySchema, required=True)
    commission = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)
    refund = fields.Nested(MoneySchema, required=True)
    payout = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "claims paid on the policy (partner_settled: by the partner)"},
    )
    net_due = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "owed by the partner (negative: owed to it)"},
    )
    late = fields.Boolean(
        required=True, metadata={"description": "an entry of an earlier, closed month"}
    )


class StatementTotalSchema(Strict):
    premium = fields.Nested(MoneySchema, required=True)
    tax = fields.Nested(MoneySchema, required=True)
    commission = fields.Nested(MoneySchema, required=True)
    fees = fields.Nested(MoneySchema, required=True)
    refund = fields.Nested(MoneySchema, required=True)
    payout = fields.Nested(MoneySchema, required=True)
    net_due = fields.Nested(MoneySchema, required=True)


class StatementSchema(Strict):
    id = fields.String(
        allow_none=True, required=True, metadata={"description": "null while the month is open"}
    )
    object = fields.Constant("statement", required=True)
    livemode = fields.Boolean(required=True)
    period = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    billing_mode = fields.String(required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)
    totals = fields.List(fields.Nested(StatementTotalSchema), required=True)
    lines = fields.List(fields.Nested(StatementLineSchema), required=True)


# -- trigger events and claims -----------------------------------------------------------

CLAIM_STATUSES = ["submitted", "in_review", "approved", "rejected", "paid", "payout_failed"]


class TriggerEventRequestSchema(Strict):
    type = fields.String(
        required=True,
        validate=validate.OneOf(list(TRIGGER_TYPES)),
        metadata={"example": "flight.status"},
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
        validate=validate.OneOf(["processed", "superseded", "premature"]),
        metadata={
            "description": "superseded: a later observed report was already applied; "
            "premature: observed before its event_time (the loss cannot have happened "
            "yet): kept, changed nothing"
        },
    )
    result = fields.Dict(
        required=True,
        metadata={
            "description": "matched policies, claims created, paid, approved (payout "
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
    by = fields.String(required=True, validate=validate.OneOf(["system", "staff"]))
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
    origin = fields.String(required=True, validate=validate.OneOf(["trigger", "filed"]))
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


# -- ops ---------------------------------------------------------------------------------


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
    method = fields.String(required=True, validate=validate.OneOf(["statement", "stripe"]))
    status = fields.String(
        required=True, validate=validate.OneOf(["pending", "succeeded", "failed"])
    )
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
