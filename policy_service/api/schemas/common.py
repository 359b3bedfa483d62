"""What every resource's schemas share: strictness, the list envelope, money, errors, paging."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

MAX_BATCH = 1000


class JsonBoolean(fields.Boolean):
    """true or false only: marshmallow's Boolean would also take "yes", "1" or 1."""

    def _deserialize(self, value: object, attr: object, data: object, **kwargs: object) -> bool:
        if not isinstance(value, bool):
            raise ma.ValidationError("must be true or false")
        return value


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


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
    claim = fields.String(
        metadata={"description": "the claim in the way (409 claim_in_review, claim_exists)"}
    )
    decline_code = fields.String(
        allow_none=True, metadata={"description": "the card issuer's reason (402)"}
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


class PageArgsSchema(Strict):
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    starting_after = fields.String()
