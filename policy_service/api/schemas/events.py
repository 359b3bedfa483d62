"""Events, their webhook deliveries, and webhook endpoints."""

from __future__ import annotations

from marshmallow import fields, validate

from policy_service.domain.webhooks import ATTEMPT_OUTCOMES, DELIVERY_STATUSES, ENDPOINT_STATUSES

from .common import JsonBoolean, ListEnvelope, Strict


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
    outcome = fields.String(required=True, validate=validate.OneOf(ATTEMPT_OUTCOMES))
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
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
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
    status = fields.String(required=True, validate=validate.OneOf(ENDPOINT_STATUSES))
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
    disabled = JsonBoolean()
