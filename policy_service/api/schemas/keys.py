"""API keys: a partner's keys, managed by a key with the keys:admin scope."""

from __future__ import annotations

from marshmallow import fields, validate

from policy_service.domain.records import ALL_SCOPES, FULL_ACCESS

from .common import ListEnvelope, Strict

_SCOPES = [*ALL_SCOPES, FULL_ACCESS]


class ApiKeySchema(Strict):
    id = fields.String(required=True, metadata={"example": "key_01jf3k9x2m7q4v8z0c5n6b1r2t"})
    object = fields.Constant("api_key", required=True)
    livemode = fields.Boolean(required=True)
    hint = fields.String(required=True, metadata={"example": "sk_test_...a1b2"})
    scopes = fields.List(fields.String(validate=validate.OneOf(_SCOPES)), required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["active", "expiring", "revoked"]),
        metadata={"description": "expiring: rotated, it works until revoked_at"},
    )
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True, required=True)
    secret = fields.String(
        metadata={"description": "the key itself: only in the answers to create and rotate"}
    )


class ApiKeyListSchema(ListEnvelope):
    data = fields.List(fields.Nested(ApiKeySchema), required=True)


class ApiKeyCreateSchema(Strict):
    scopes = fields.List(
        fields.String(validate=validate.OneOf(_SCOPES)),
        metadata={"description": "what the key may do (default: everything, *)"},
    )


class ApiKeyRotateSchema(Strict):
    overlap_hours = fields.Integer(
        load_default=24,
        validate=validate.Range(0, 72),
        metadata={"description": "how long the old key keeps working (0 to 72, default 24)"},
    )
