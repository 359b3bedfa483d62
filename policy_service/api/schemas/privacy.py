"""Privacy requests."""

from __future__ import annotations

from marshmallow import fields, validate

from policy_service.domain.policyholder import ID_TYPES

from .common import Strict


class PrivacyRequestSchema(Strict):
    id_number = fields.String(
        required=True,
        metadata={"description": "the person's ID number (hashed to find them; never kept)"},
    )
    id_type = fields.String(
        validate=validate.OneOf(ID_TYPES), metadata={"description": "default: any type"}
    )


class PrivacyExportSchema(Strict):
    object = fields.Constant("privacy_export", required=True)
    generated_at = fields.DateTime(required=True)
    policies = fields.List(
        fields.Dict(), required=True, metadata={"description": "as GET /v1/policies/{id}"}
    )
    claims = fields.List(
        fields.Dict(), required=True, metadata={"description": "as GET /v1/claims/{id}"}
    )
    endorsements = fields.List(fields.Dict(), required=True)


class PrivacyErasureSchema(Strict):
    object = fields.Constant("privacy_erasure", required=True)
    erased = fields.List(fields.String(), required=True, metadata={"description": "policy ids"})
    kept = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "policy id -> why it was kept (in force, a claim open)"},
    )
