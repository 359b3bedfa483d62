"""Request and response schemas (marshmallow). Requests are parsed with them; responses are
documented with them and a test checks real responses against the generated OpenAPI."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from policy_service.domain.policyholder import ID_TYPES
from policy_service.domain.records import CANCEL_REASONS

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
    current_edition = fields.Nested(CurrentEditionSchema, allow_none=True, required=True)
    editions = fields.List(fields.Nested(EditionSummarySchema), required=True)
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
    reason = fields.String(required=True)
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
