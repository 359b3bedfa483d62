"""Products and quotes."""

from __future__ import annotations

from marshmallow import fields, validate

from pricing.model import POLICYHOLDER_RULES

from .common import (
    BenefitSchema,
    CoverageSchema,
    EditionRefSchema,
    ListEnvelope,
    PremiumSchema,
    RefundTermSchema,
    Strict,
    Worksheet,
)


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


class EndorsableSchema(Strict):
    risk = fields.List(
        fields.String(), required=True, metadata={"description": "inputs that may change"}
    )
    policyholder = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "policyholder details that may change"},
    )
    refusals = fields.List(
        fields.Nested(EligibilitySchema),
        required=True,
        metadata={
            "description": "the codes a change is refused with (each rule is read on the "
            "policy as it stands and as it would become)"
        },
    )


class ProductSchema(Strict):
    code = fields.String(required=True, metadata={"example": "flight_delay"})
    object = fields.Constant("product", required=True)
    name = fields.String(required=True)
    name_zh = fields.String(required=True)
    description = fields.String(required=True)
    policyholder = fields.String(required=True, validate=validate.OneOf(POLICYHOLDER_RULES))
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
    endorsements = fields.Nested(
        EndorsableSchema,
        allow_none=True,
        required=True,
        metadata={
            "description": "what a policy may change after issue (POST "
            "/v1/policies/{id}/endorsements); null: nothing"
        },
    )


class ProductListSchema(ListEnvelope):
    data = fields.List(fields.Nested(ProductSchema), required=True)


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
