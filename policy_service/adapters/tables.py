"""Database tables (SQLAlchemy Core). Money is integer minor units plus an ISO currency.

The database itself refuses what must never happen: negative amounts, a policy without
a product edition, two policies for one partner + product + external_ref, two covers
of one insured subject.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

from policy_service.domain.claims import (
    CLAIM_ORIGINS,
    CLAIM_STATUSES,
    PAYOUT_METHODS,
    PAYOUT_STATUSES,
    TRIGGER_STATUSES,
)
from policy_service.domain.ledger import COLLECTED_BY, ENTRY_KINDS
from policy_service.domain.lifecycle import POLICY_STATUSES
from policy_service.domain.records import (
    BILLING_MODES,
    PAYMENT_PURPOSES,
    PAYMENT_STATUSES,
    REFUND_KINDS,
    REFUND_STATUSES,
    STAFF_ROLES,
)
from policy_service.domain.webhooks import ATTEMPT_OUTCOMES, DELIVERY_STATUSES, ENDPOINT_STATUSES

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which has no time zones) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK that `column` holds one of a vocabulary's values (defined once, in domain/)."""
    return f"{column} in ({', '.join(repr(v) for v in values)})"


JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: a document that may be absent: None is SQL NULL (not a JSON null), on every path
OptionalJSONDoc = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def _id(prefix_len: int = 40) -> sa.Column[str]:
    return sa.Column("id", sa.String(prefix_len), primary_key=True)


def _numbered_partner_key() -> sa.Column[str]:
    """The partner of a row the database numbers, part of its key on PostgreSQL (0017).
    On SQLite the key stays the integer id alone (the rowid: SQLite numbers no other key,
    so this metadata does not create SQLite tables: the migrations do)."""
    return _partner_key()


def _partner_key() -> sa.Column[str]:
    """A partner-owned row's partner, part of its key: (id, partner_id), id first so that
    a lookup by id alone still uses the key's index (docs/scaling.md)."""
    return sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), primary_key=True)


def _owned(column: str, parent: str) -> sa.ForeignKeyConstraint:
    """A key to a row of the same partner: the partner is part of the key, so that a
    distributed database finds both rows on one node (docs/scaling.md)."""
    return sa.ForeignKeyConstraint([column, "partner_id"], [f"{parent}.id", f"{parent}.partner_id"])


def _money(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def _premium_columns() -> list[sa.Column[Any]]:
    """An itemised premium: currency and five amounts in minor units."""
    return [
        sa.Column("currency", sa.String(3), nullable=False),
        *(_money(f"premium_{part}") for part in ("total", "net", "tax", "commission", "fees")),
    ]


def _premium_checks() -> list[sa.CheckConstraint]:
    """No negative part, and the parts sum to the total, whatever wrote the row."""
    return [
        sa.CheckConstraint(
            "premium_total >= 0 and premium_net >= 0 and premium_tax >= 0"
            " and premium_commission >= 0 and premium_fees >= 0",
            name="premium_not_negative",
        ),
        sa.CheckConstraint(
            "premium_net + premium_tax + premium_commission + premium_fees = premium_total",
            name="premium_parts_sum",
        ),
    ]


partners = sa.Table(
    "partners",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    #: partner_settled (premiums accrue to the partner's account) or stripe
    sa.Column("billing_mode", sa.String(20), nullable=False, server_default="partner_settled"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: requests per key of this partner, e.g. 500/second (None: RATE_LIMIT_DEFAULT)
    sa.Column("rate_limit", sa.String(40), nullable=True),
    sa.CheckConstraint(one_of("billing_mode", BILLING_MODES), name="billing_mode"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
    #: SHA-256 of the whole secret; the secret itself is shown once and never stored
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    #: e.g. sk_test_...a1b2, to recognise a key in listings
    sa.Column("key_hint", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    #: space-separated scopes, e.g. "products:read quotes:write policies:write"
    sa.Column("scopes", sa.String(500), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

product_editions = sa.Table(
    "product_editions",
    metadata,
    #: "<product>/<edition>", e.g. flight_delay/2026-11
    sa.Column("id", sa.String(120), primary_key=True),
    sa.Column("product_code", sa.String(60), nullable=False),
    sa.Column("edition", sa.String(60), nullable=False),
    #: sha256 over the edition folder's files; a used edition may never change it
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("effective_from", UTCDateTime, nullable=False),
    #: the edition's files as loaded (path -> text), so any premium can be replayed
    sa.Column("files", JSONDoc, nullable=False),
    sa.Column("registered_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("product_code", "edition"),
)

#: who put which content of an edition on sale, and when (append-only). The service sells an
#: edition only while its latest entry is a publish whose hash its files still have.
edition_publications = sa.Table(
    "edition_publications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("edition_id", sa.String(120), sa.ForeignKey("product_editions.id"), nullable=False),
    sa.Column("product_code", sa.String(60), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("effective_from", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.CheckConstraint("action IN ('publish', 'withdraw')", name="publication_action"),
    sa.Index("ix_edition_publications_product", "product_code", "id"),
)

#: Trigger types put in force: the text of the file as published (a report is validated,
#: and claim rules checked, against the latest one of each name, whatever the file says now).
trigger_type_publications = sa.Table(
    "trigger_type_publications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("ix_trigger_type_publications_name", "name", "id"),
)

quotes = sa.Table(
    "quotes",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("product_code", sa.String(60), nullable=False),
    sa.Column("edition_id", sa.String(120), sa.ForeignKey("product_editions.id"), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("external_ref", sa.String(200), nullable=True),
    sa.Column("risk", JSONDoc, nullable=False),
    *_premium_columns(),
    sa.Column("worksheet", JSONDoc, nullable=False),
    sa.Column("coverage_start", UTCDateTime, nullable=False),
    sa.Column("coverage_end", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    *_premium_checks(),
    sa.Index(None, "partner_id", "livemode", "id"),
    #: is an edition used? (asked at every product reload)
    sa.Index(None, "edition_id"),
)

policies = sa.Table(
    "policies",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("product_code", sa.String(60), nullable=False),
    #: the edition that priced it; a policy never exists without one
    sa.Column("edition_id", sa.String(120), sa.ForeignKey("product_editions.id"), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    sa.Column("quote_id", sa.String(40), nullable=True),
    #: the partner's order or booking id
    sa.Column("external_ref", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("risk", JSONDoc, nullable=False),
    sa.Column("policyholder_name", sa.String(100), nullable=True),
    sa.Column("policyholder_id_type", sa.String(20), nullable=True),
    #: HMAC-SHA256 of the ID number under PII_HASH_KEY; the number itself is never stored
    sa.Column("policyholder_id_hash", sa.String(64), nullable=True),
    sa.Column("policyholder_id_last4", sa.String(4), nullable=True),
    sa.Column("policyholder_phone", sa.String(16), nullable=True),
    *_premium_columns(),
    #: how the premium was worked out; null when the pinned edition gives it again from the
    #: risk at priced_at: the view rebuilds it instead of storing a copy
    sa.Column("worksheet", OptionalJSONDoc, nullable=True),
    #: when the premium was priced: at issue, or when its quote was made (null: before
    #: 0008, when every policy stored its worksheet)
    sa.Column("priced_at", UTCDateTime, nullable=True),
    sa.Column("coverage_start", UTCDateTime, nullable=False),
    sa.Column("coverage_end", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("cancelled_at", UTCDateTime, nullable=True),
    sa.Column("cancel_reason", sa.String(40), nullable=True),
    _money("refund_amount", nullable=True),
    #: stripe billing: the PaymentIntent that charged the premium
    sa.Column("payment_intent", sa.String(80), nullable=True),
    #: 1 as issued; each endorsement adds one (policy_endorsements keeps what it changed)
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.CheckConstraint(
        one_of("status", POLICY_STATUSES),
        name="status",
    ),
    sa.CheckConstraint("version >= 1", name="version"),
    *_premium_checks(),
    sa.CheckConstraint(
        "refund_amount is null or (refund_amount >= 0 and refund_amount <= premium_total)",
        name="refund_within_premium",
    ),
    #: one policy per partner + product + external_ref; a policy whose payment failed does
    #: not count, so the order can be insured again with another card
    sa.Index(
        "uq_policies_external_ref_in_force",
        "partner_id",
        "livemode",
        "product_code",
        "external_ref",
        unique=True,
        postgresql_where=sa.text("status <> 'payment_failed'"),
        sqlite_where=sa.text("status <> 'payment_failed'"),
    ),
    sa.Index(None, "partner_id", "livemode", "id"),
    #: the worker's expiry sweep
    sa.Index(None, "status", "coverage_end"),
    #: customer service finds a person's policies (only rows that name one are indexed)
    *(
        sa.Index(
            f"ix_policies_{column}",
            column,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )
        for column in ("policyholder_id_hash", "policyholder_phone", "policyholder_name")
    ),
    #: is an edition used? (asked at every product reload)
    sa.Index(None, "edition_id"),
    _owned("quote_id", "quotes"),
    sa.UniqueConstraint("quote_id", "partner_id"),
)

#: One row per insured subject (a person on a flight, an order) while its policy is in force:
#: the primary key makes a second cover impossible, across partners.
cover_locks = sa.Table(
    "cover_locks",
    metadata,
    sa.Column("livemode", sa.Boolean, primary_key=True),
    sa.Column("product_code", sa.String(60), primary_key=True),
    #: sha256 of the subject's values (and the insured person's ID hash)
    sa.Column("cover_key", sa.String(64), primary_key=True),
    sa.Column("policy_id", sa.String(40), nullable=False),
    #: the policy's partner (0016): the key to the policy names it, as every key does
    sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _owned("policy_id", "policies"),
)

#: A change of a policy after issue (an endorsement): the risk, policyholder details,
#: premium and cover before and after it. The policy's row holds the latest; the first
#: endorsement's "before" is the policy as issued.
policy_endorsements = sa.Table(
    "policy_endorsements",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("policy_id", sa.String(40), nullable=False),
    #: the policy's version this endorsement made (2 for the first)
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("risk_before", JSONDoc, nullable=False),
    sa.Column("risk_after", JSONDoc, nullable=False),
    #: the policyholder's name and phone (null: the product names no policyholder)
    sa.Column("holder_before", OptionalJSONDoc, nullable=True),
    sa.Column("holder_after", OptionalJSONDoc, nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    *(
        _money(f"{side}_{part}")
        for side in ("before", "after")
        for part in ("total", "net", "tax", "commission", "fees")
    ),
    sa.Column("coverage_start_before", UTCDateTime, nullable=False),
    sa.Column("coverage_end_before", UTCDateTime, nullable=False),
    sa.Column("coverage_start_after", UTCDateTime, nullable=False),
    sa.Column("coverage_end_after", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("policy_id", "version", "partner_id"),
    sa.CheckConstraint("version >= 2", name="version"),
    *(
        sa.CheckConstraint(
            f"{side}_net + {side}_tax + {side}_commission + {side}_fees = {side}_total"
            f" and {side}_net >= 0 and {side}_tax >= 0 and {side}_commission >= 0"
            f" and {side}_fees >= 0",
            name=f"premium_{side}",
        )
        for side in ("before", "after")
    ),
    _owned("policy_id", "policies"),
)


idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), primary_key=True),
    sa.Column("livemode", sa.Boolean, primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    #: sha256 of method, path and the canonical JSON body
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    #: the answer as sent; null when it was a policy as issued (policy_id), rebuilt from
    #: the policy's row on a replay instead of kept as a second copy
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("policy_id", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("(response_body is null) <> (policy_id is null)", name="body_or_policy"),
    sa.Index(None, "created_at"),
)

#: The outbox: every state change writes its event in the same transaction.
events = sa.Table(
    "events",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("object_type", sa.String(30), nullable=False),
    sa.Column("object_id", sa.String(40), nullable=False),
    #: the object as it is after the change, as the API shows it; null for a policy as
    #: issued (policy.issued), which is rebuilt from the policy's row when read
    sa.Column("data", OptionalJSONDoc, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: when the worker fanned the event out to the webhook endpoints (null: not yet)
    sa.Column("dispatched_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("data is not null or type = 'policy.issued'", name="data"),
    sa.Index(None, "partner_id", "livemode", "id"),
    sa.Index(None, "object_id"),
    sa.Index(
        "ix_events_undispatched",
        "id",
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    ),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    #: subscribed event types, or ["*"]
    sa.Column("events", JSONDoc, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    #: the signing secret (whsec_...); kept to sign, so the database must be protected
    sa.Column("secret", sa.String(80), nullable=False),
    #: after a rotation the old secret still signs until previous_secret_expires_at
    sa.Column("previous_secret", sa.String(80), nullable=True),
    sa.Column("previous_secret_expires_at", UTCDateTime, nullable=True),
    #: start of the current run of failed deliveries (null when the last one succeeded)
    sa.Column("failing_since", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(one_of("status", ENDPOINT_STATUSES), name="status"),
    sa.Index(None, "partner_id", "livemode", "id"),
)

#: One row per event and endpoint: the unit a worker claims, under a lease.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    #: pending (due at next_attempt_at), paused (its endpoint is disabled), succeeded, failed
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
    #: raised by every resend: an attempt started before it does not settle the delivery
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    #: when the next attempt is due (null once succeeded or failed)
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    #: a worker that claimed the delivery owns it until then; after, another may take over
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("lease_owner", sa.String(80), nullable=True),
    #: start of the retry window (reset by a resend)
    sa.Column("first_attempt_at", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
    sa.CheckConstraint("attempt_count >= 0", name="attempt_count_not_negative"),
    sa.UniqueConstraint("event_id", "endpoint_id", "partner_id"),
    sa.Index(None, "status", "next_attempt_at"),
    _owned("event_id", "events"),
    _owned("endpoint_id", "webhook_endpoints"),
)

#: Every attempt, including those whose worker died (outcome "abandoned").
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("delivery_id", sa.String(40), nullable=False),
    #: its delivery's (0015): a partner's rows live together (docs/scaling.md)
    _numbered_partner_key(),
    #: 1, 2, ...: unique per delivery, so one attempt can never run twice
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(80), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.String(500), nullable=True),
    #: the start of the receiver's answer, for debugging
    sa.Column("response_excerpt", sa.String(500), nullable=True),
    sa.Column("outcome", sa.String(12), nullable=False),
    sa.Column("next_retry_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(one_of("outcome", ATTEMPT_OUTCOMES), name="outcome"),
    sa.UniqueConstraint("delivery_id", "number", "partner_id"),
    _owned("delivery_id", "webhook_deliveries"),
)


#: A premium charged through the Stripe-compatible API (stripe billing): one per policy,
#: then one per endorsement that raises it (its difference).
payments = sa.Table(
    "payments",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("policy_id", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(12), nullable=False, server_default="premium"),
    #: the endorsement request it pays for (JSON), applied once the charge succeeds
    sa.Column("endorsement_request", sa.Text, nullable=True),
    #: the endorsement it paid for, once applied
    sa.Column("endorsement_id", sa.String(40), nullable=True),
    _money("amount"),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("payment_method", sa.String(80), nullable=False),
    #: creating -> confirming -> succeeded | failed (unknown: the API did not answer)
    sa.Column("status", sa.String(12), nullable=False),
    #: the payment API's id, unique worldwide: unique here across partners too, since the
    #: payment API's webhooks name a charge by it alone (a gap in docs/scaling.md's rules)
    sa.Column("payment_intent", sa.String(80), nullable=True, unique=True),
    sa.Column("decline_code", sa.String(60), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    #: the Idempotency-Key of the issue request, to finish its stored answer later
    sa.Column("idempotency_key", sa.String(300), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(one_of("status", PAYMENT_STATUSES), name="status"),
    sa.CheckConstraint(one_of("purpose", PAYMENT_PURPOSES), name="purpose"),
    sa.CheckConstraint(
        "(purpose = 'endorsement') = (endorsement_request is not null)",
        name="endorsement_names_its_request",
    ),
    sa.Index(None, "status", "updated_at"),
    #: one premium payment per policy
    sa.Index(
        "uq_payments_premium",
        "policy_id",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("purpose = 'premium'"),
        sqlite_where=sa.text("purpose = 'premium'"),
    ),
    _owned("policy_id", "policies"),
    _owned("endorsement_id", "policy_endorsements"),
)

#: Money given back: a cancelled policy's refund (one per policy, at most its premium), an
#: endorsement's lowered premium (one per endorsement), an endorsement charge returned
#: because the change could no longer be made (one per payment).
refunds = sa.Table(
    "refunds",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("policy_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False, server_default="premium"),
    sa.Column("endorsement_id", sa.String(40), nullable=True),
    sa.Column("payment_id", sa.String(40), nullable=True),
    _money("amount"),
    sa.Column("currency", sa.String(3), nullable=False),
    #: the charges it is sent back on, [{"payment": id, "amount": minor}, ...] (a charge
    #: gives back at most what it took); null: all of it on payment_id
    sa.Column("allocation", OptionalJSONDoc, nullable=True),
    #: pending (to send to the payment API) -> succeeded | failed
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("stripe_refund", sa.String(80), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(one_of("status", REFUND_STATUSES), name="status"),
    sa.CheckConstraint(one_of("kind", REFUND_KINDS), name="kind"),
    sa.CheckConstraint(
        "(kind = 'endorsement') = (endorsement_id is not null)",
        name="endorsement_names_its_endorsement",
    ),
    sa.CheckConstraint("kind = 'premium' or payment_id is not null", name="names_its_payment"),
    sa.Index(None, "status"),
    sa.Index(
        "uq_refunds_premium",
        "policy_id",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("kind = 'premium'"),
        sqlite_where=sa.text("kind = 'premium'"),
    ),
    sa.Index(
        "uq_refunds_endorsement",
        "endorsement_id",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("endorsement_id IS NOT NULL"),
        sqlite_where=sa.text("endorsement_id IS NOT NULL"),
    ),
    sa.Index(
        "uq_refunds_returned",
        "payment_id",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("kind = 'returned'"),
        sqlite_where=sa.text("kind = 'returned'"),
    ),
    _owned("policy_id", "policies"),
    _owned("endorsement_id", "policy_endorsements"),
    _owned("payment_id", "payments"),
)

#: The books: every premium and refund, signed (premium +, refund -), in minor units.
#: One premium and at most one refund per policy, enforced by the unique key.
#: a premium or refund comes once per policy (the partial index's condition)
PREMIUM_OR_REFUND = "kind in ('premium', 'refund')"
#: premiums are positive, refunds and payouts negative; an endorsement's difference either
SIGN_OF_KIND = (
    "(kind = 'premium' and amount > 0) or (kind in ('refund', 'payout') and amount < 0)"
    " or kind = 'endorsement'"
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    _numbered_partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("policy_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    #: the claim a payout entry pays (null for premiums and refunds)
    sa.Column("claim_id", sa.String(40), nullable=True),
    #: the payout it books: a claim may be paid in several (a top-up), each booked once
    sa.Column("payout_id", sa.String(40), nullable=True),
    #: partner_settled: the partner collected (or paid out) the money; stripe: we did
    sa.Column("collected_by", sa.String(10), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("tax", sa.BigInteger, nullable=False),
    sa.Column("commission", sa.BigInteger, nullable=False),
    sa.Column("fees", sa.BigInteger, nullable=False),
    sa.Column("net", sa.BigInteger, nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    #: settlement month (YYYY-MM, settlement time zone) the entry belongs to
    sa.Column("period", sa.String(7), nullable=False),
    #: the closed statement that carries it (null: not settled yet)
    sa.Column("statement_id", sa.String(40), nullable=True),
    #: the endorsement an endorsement entry books (its premium difference, either sign)
    sa.Column("endorsement_id", sa.String(40), nullable=True),
    sa.CheckConstraint(one_of("kind", ENTRY_KINDS), name="kind"),
    sa.CheckConstraint(one_of("collected_by", COLLECTED_BY), name="collected_by"),
    sa.CheckConstraint("amount = tax + commission + fees + net", name="parts_sum"),
    sa.CheckConstraint(SIGN_OF_KIND, name="sign_of_kind"),
    sa.CheckConstraint(
        "(kind = 'endorsement') = (endorsement_id is not null)",
        name="endorsement_names_its_endorsement",
    ),
    sa.CheckConstraint("(kind = 'payout') = (claim_id is not null)", name="payout_names_its_claim"),
    sa.CheckConstraint(
        "(kind = 'payout') = (payout_id is not null)", name="payout_names_its_payout"
    ),
    #: one premium and one refund per policy; one entry per claim payout and endorsement
    sa.Index(
        "uq_ledger_entries_policy_premium_refund",
        "policy_id",
        "kind",
        "partner_id",
        unique=True,
        postgresql_where=sa.text(PREMIUM_OR_REFUND),
        sqlite_where=sa.text(PREMIUM_OR_REFUND),
    ),
    sa.Index(
        "uq_ledger_entries_endorsement",
        "endorsement_id",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("endorsement_id IS NOT NULL"),
        sqlite_where=sa.text("endorsement_id IS NOT NULL"),
    ),
    sa.Index(
        "uq_ledger_entries_payout",
        "payout_id",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("payout_id IS NOT NULL"),
        sqlite_where=sa.text("payout_id IS NOT NULL"),
    ),
    sa.Index(None, "partner_id", "livemode", "statement_id", "period"),
    _owned("policy_id", "policies"),
    _owned("claim_id", "claims"),
    _owned("payout_id", "claim_payouts"),
    _owned("statement_id", "statements"),
    _owned("endorsement_id", "policy_endorsements"),
)

#: A closed settlement month: never changes once written.
statements = sa.Table(
    "statements",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("billing_mode", sa.String(20), nullable=False),
    #: per currency: premium, refund, tax, commission, fees, net_due, in minor units
    sa.Column("totals", JSONDoc, nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("partner_id", "livemode", "period"),
)

#: Stripe webhook events already handled (Stripe delivers at least once).
stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)


# -- claims -------------------------------------------------------------------------------

#: Data providers (flight-status feeds, logistics companies): they post trigger events only.
data_providers = sa.Table(
    "data_providers",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: requests per key of this provider (None: RATE_LIMIT_DEFAULT)
    sa.Column("rate_limit", sa.String(40), nullable=True),
)

provider_keys = sa.Table(
    "provider_keys",
    metadata,
    _id(),
    sa.Column("provider_id", sa.String(40), sa.ForeignKey("data_providers.id"), nullable=False),
    #: sha256 of the secret; the secret itself is shown once and never stored
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_hint", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

#: Ops staff: they review claims in the console and through /v1/ops.
staff = sa.Table(
    "staff",
    metadata,
    _id(),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    #: scrypt hash for the console login (null: no password set)
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
    #: console sessions started before this are void (logout)
    sa.Column("sessions_revoked_at", UTCDateTime, nullable=True),
    #: wrong passwords in a row; at LOGIN_ATTEMPTS the login locks until locked_until
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.CheckConstraint(one_of("role", STAFF_ROLES), name="role"),
)

#: Wrong console passwords per account and client address: a lock holds only that address,
#: so nobody can keep a staff member locked out from elsewhere (staff.failed_logins and
#: locked_until, the account-wide lock before, are no longer written).
staff_login_failures = sa.Table(
    "staff_login_failures",
    metadata,
    sa.Column("staff_id", sa.String(40), sa.ForeignKey("staff.id"), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
)

staff_tokens = sa.Table(
    "staff_tokens",
    metadata,
    _id(),
    sa.Column("staff_id", sa.String(40), sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("token_hint", sa.String(40), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

#: A fact about the world (a flight's status, a return shipment's pickup), as posted.
trigger_events = sa.Table(
    "trigger_events",
    metadata,
    _id(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    #: provider (live or test) or partner (test mode: touches only that partner's policies)
    sa.Column("source_type", sa.String(10), nullable=False),
    sa.Column("source_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    #: sha256 of the type, mode and the values naming what the fact is about
    sa.Column("subject_key", sa.String(64), nullable=False),
    #: when the provider observed the fact: of two reports on one subject, the later counts
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    #: sha256 of type, data and observed_at: the same fact posted twice is one event
    sa.Column("fingerprint", sa.String(64), nullable=False),
    #: processed | superseded (a later report on the subject was already applied) |
    #: premature (it reports a loss later than it was observed: kept, changes nothing)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("result", JSONDoc, nullable=False),
    #: when the reported loss happened (the trigger type's event time)
    sa.Column("event_time", UTCDateTime, nullable=True),
    #: sha256 of the subject and the data without observed_at: the same fact reported again
    sa.Column("fact_key", sa.String(64), nullable=True),
    sa.CheckConstraint("source_type in ('provider', 'partner')", name="source_type"),
    sa.CheckConstraint(one_of("status", TRIGGER_STATUSES), name="status"),
    sa.UniqueConstraint("source_id", "livemode", "fingerprint"),
    sa.Index(None, "subject_key", "observed_at"),
    sa.Index(None, "source_id", "livemode", "id"),
    sa.Index(None, "fact_key", "observed_at"),
)

#: What a policy can be matched on by triggers: one key per claim rule's way of matching.
policy_subjects = sa.Table(
    "policy_subjects",
    metadata,
    sa.Column("subject_key", sa.String(64), primary_key=True),
    sa.Column("policy_id", sa.String(40), primary_key=True),
    #: the policy's partner (0016)
    sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
    _owned("policy_id", "policies"),
    #: a policy's keys: claims filed on it, and policies not indexed yet
    sa.Index(None, "policy_id"),
)

claims = sa.Table(
    "claims",
    metadata,
    _id(),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("policy_id", sa.String(40), nullable=False),
    sa.Column("product_code", sa.String(60), nullable=False),
    sa.Column("edition_id", sa.String(120), sa.ForeignKey("product_editions.id"), nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False),
    #: the loss the claim is about: a policy is paid once per loss (the trigger type, or
    #: the benefit of a filed claim no trigger covers)
    sa.Column("loss_key", sa.String(80), nullable=False),
    #: trigger (decided from a trigger event) or filed (by the partner)
    sa.Column("origin", sa.String(10), nullable=False),
    #: the benefit claimed (a benefit code of the edition)
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    _money("amount_claimed", nullable=True),
    _money("amount_approved", nullable=True),
    _money("amount_paid", nullable=True),
    sa.Column("description", sa.String(2000), nullable=True),
    sa.Column("evidence", JSONDoc, nullable=False),
    #: the trigger event that decided it (the latest applied, after corrections)
    sa.Column("trigger_event_id", sa.String(40), sa.ForeignKey("trigger_events.id"), nullable=True),
    sa.Column("observed_at", UTCDateTime, nullable=True),
    #: when the loss happened, as the trigger reported it (null: a filed claim)
    sa.Column("event_time", UTCDateTime, nullable=True),
    #: the most the claim may pay: the edition's largest benefit, in minor units
    _money("benefit_cap", nullable=True),
    #: the rule evaluation: trigger data, rules checked, values compared, result
    sa.Column("evaluation", JSONDoc, nullable=True),
    #: corrections received after the decision, each with its evaluation
    sa.Column("corrections", JSONDoc, nullable=False),
    #: fraud signals: [{code, reason}]
    sa.Column("signals", JSONDoc, nullable=False),
    #: the evidence's identity (a return shipment's tracking number), to spot reuse
    sa.Column("evidence_ref", sa.String(80), nullable=True),
    #: the policyholder's ID hash, to count claims per person
    sa.Column("holder_key", sa.String(64), nullable=True),
    #: a first approval above the second-approval limit, waiting for another approver
    sa.Column("first_approval", JSONDoc, nullable=True),
    sa.Column("info_requested_at", UTCDateTime, nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    #: "system" or the staff id
    sa.Column("decided_by", sa.String(40), nullable=True),
    sa.Column("decision_reason", sa.String(2000), nullable=True),
    sa.Column("reject_code", sa.String(40), nullable=True),
    sa.Column("paid_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(
        one_of("status", CLAIM_STATUSES),
        name="status",
    ),
    sa.CheckConstraint(one_of("origin", CLAIM_ORIGINS), name="origin"),
    sa.CheckConstraint(
        "(amount_claimed is null or amount_claimed >= 0)"
        " and (amount_approved is null or amount_approved > 0)"
        " and (amount_paid is null or amount_paid <= amount_approved)"
        " and (status <> 'paid' or amount_paid = amount_approved)",
        name="amounts",
    ),
    sa.CheckConstraint(
        "benefit_cap is null or amount_approved is null or amount_approved <= benefit_cap",
        name="within_benefit",
    ),
    #: a claim is decided only on a report observed once its loss had happened
    sa.CheckConstraint(
        "event_time is null or observed_at >= event_time", name="loss_before_report"
    ),
    #: one claim per policy and loss (a rejected claim may be filed again)
    sa.Index(
        "uq_claims_policy_loss",
        "policy_id",
        "loss_key",
        "partner_id",
        unique=True,
        postgresql_where=sa.text("status <> 'rejected'"),
        sqlite_where=sa.text("status <> 'rejected'"),
    ),
    sa.Index(None, "partner_id", "livemode", "id"),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "evidence_ref"),
    sa.Index(None, "holder_key", "created_at"),
    #: an incident's claims (GET /v1/claims?trigger_event=, the console's incident page)
    sa.Index(None, "trigger_event_id"),
    _owned("policy_id", "policies"),
)

#: The payments of an approved claim: the first, then one per top-up (a later report that
#: reaches a higher tier pays the difference). Each top-up starts exactly where a payout of
#: the claim ended (a foreign key), no two start at the same point, and none ends above the
#: claim's cap: the payouts of a claim are one unbroken line from 0 to what it paid.
claim_payouts = sa.Table(
    "claim_payouts",
    metadata,
    _id(),
    sa.Column("claim_id", sa.String(40), nullable=False),
    #: 1 for the first payout of the claim, 2 for its first top-up, ...
    sa.Column("sequence", sa.Integer, nullable=False, server_default="1"),
    #: what the claim had paid before this payout (minor units; null: the first payout)
    _money("paid_before", nullable=True),
    #: what the claim has paid with this payout: paid_before + amount
    _money("paid_after"),
    #: the claim's benefit cap when it was paid (minor units)
    _money("cap", nullable=True),
    _partner_key(),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("policy_id", sa.String(40), nullable=False),
    _money("amount"),
    sa.Column("currency", sa.String(3), nullable=False),
    #: statement (partner_settled: the partner pays its buyer) or stripe
    sa.Column("method", sa.String(10), nullable=False),
    #: pending -> succeeded | failed (failed may be retried: back to pending)
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("stripe_refund", sa.String(80), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=True),
    #: a worker sending it owns it until then
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(one_of("method", PAYOUT_METHODS), name="method"),
    sa.CheckConstraint(one_of("status", PAYOUT_STATUSES), name="status"),
    sa.CheckConstraint("sequence >= 1 and (sequence = 1) = (paid_before is null)", name="sequence"),
    sa.CheckConstraint("paid_after = coalesce(paid_before, 0) + amount", name="paid_after"),
    sa.CheckConstraint("cap is null or paid_after <= cap", name="within_cap"),
    sa.UniqueConstraint("claim_id", "sequence", "partner_id"),
    sa.UniqueConstraint("claim_id", "paid_before", "partner_id"),
    sa.UniqueConstraint("claim_id", "paid_after", "partner_id"),
    sa.ForeignKeyConstraint(
        ["claim_id", "paid_before", "partner_id"],
        ["claim_payouts.claim_id", "claim_payouts.paid_after", "claim_payouts.partner_id"],
        name="fk_claim_payouts_follows",
    ),
    sa.Index(None, "status", "updated_at"),
    _owned("claim_id", "claims"),
    _owned("policy_id", "policies"),
)

claim_attachments = sa.Table(
    "claim_attachments",
    metadata,
    _id(),
    sa.Column("claim_id", sa.String(40), nullable=False),
    #: its claim's (0015)
    _partner_key(),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    #: the bytes are stored once under ATTACHMENTS_DIR by this digest
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("size >= 0", name="size_not_negative"),
    sa.Index(None, "claim_id"),
    _owned("claim_id", "claims"),
)

#: Every action on a claim, by the system, a partner, a provider or a person.
#: Append-only: database triggers refuse UPDATE and DELETE (migration 0004).
claim_audit = sa.Table(
    "claim_audit",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("claim_id", sa.String(40), nullable=False),
    #: its claim's (0015)
    _numbered_partner_key(),
    sa.Column("at", UTCDateTime, nullable=False),
    #: system | staff | partner | provider
    sa.Column("actor_type", sa.String(10), nullable=False),
    sa.Column("actor_id", sa.String(254), nullable=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=True),
    sa.Column("reason", sa.String(2000), nullable=True),
    #: the fields the action changed, before and after
    sa.Column("before", JSONDoc, nullable=True),
    sa.Column("after", JSONDoc, nullable=True),
    sa.Index(None, "claim_id", "id"),
    _owned("claim_id", "claims"),
)

#: Privacy requests (exports, erasures, the retention sweep): who asked, what they
#: touched; never whom they were about (the ID number, its hash, name or phone).
privacy_requests = sa.Table(
    "privacy_requests",
    metadata,
    _id(),
    sa.Column("kind", sa.String(10), nullable=False),
    #: the partner that asked (null: the operator, from the CLI or the retention sweep)
    sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=True),
    sa.Column("livemode", sa.Boolean, nullable=True),
    #: an API key id, "cli", or "retention"
    sa.Column("requested_by", sa.String(60), nullable=False),
    #: the policies the request covered, and those an erasure had to keep (with why)
    sa.Column("policies", JSONDoc, nullable=False),
    sa.Column("kept", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("kind in ('export', 'erasure', 'retention')", name="kind"),
)
