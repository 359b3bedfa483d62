"""Monthly statements (bordereaux)."""

from __future__ import annotations

from marshmallow import fields, validate

from policy_service.domain.ledger import STATEMENT_STATUSES

from .common import ListEnvelope, MoneySchema, Strict


class StatementArgsSchema(Strict):
    period = fields.String(
        metadata={
            "example": "2026-11",
            "description": "YYYY-MM: that month's statement; without it, the list of months",
        }
    )
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
    status = fields.String(required=True, validate=validate.OneOf(STATEMENT_STATUSES))
    billing_mode = fields.String(required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)
    totals = fields.List(fields.Nested(StatementTotalSchema), required=True)
    lines = fields.List(fields.Nested(StatementLineSchema), required=True)


class StatementSummarySchema(Strict):
    id = fields.String(
        allow_none=True, required=True, metadata={"description": "null for the open month"}
    )
    object = fields.Constant("statement", required=True)
    livemode = fields.Boolean(required=True)
    period = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATEMENT_STATUSES))
    billing_mode = fields.String(required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)
    line_count = fields.Integer(allow_none=True, required=True)
    totals = fields.List(
        fields.Nested(StatementTotalSchema),
        allow_none=True,
        required=True,
        metadata={"description": "per currency; null for the open month (read it by period)"},
    )
    url = fields.String(required=True, metadata={"example": "/v1/statements?period=2026-11"})


class StatementListSchema(ListEnvelope):
    data = fields.List(fields.Nested(StatementSummarySchema), required=True)
