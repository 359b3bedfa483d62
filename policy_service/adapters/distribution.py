"""How the tables would be placed on a distributed PostgreSQL (Citus; docs/scaling.md):
distributed by partner_id and co-located, copied to every node (reference), or keyed by
the insured risk. tests/unit/test_distribution_rules.py holds the schema to the rules
this needs."""

from __future__ import annotations

#: a partner's rows: distributed by partner_id, co-located with each other
BY_PARTNER = frozenset(
    {
        "policies", "quotes", "claims", "claim_payouts", "policy_endorsements", "payments",
        "refunds", "ledger_entries", "statements", "events", "webhook_endpoints",
        "webhook_deliveries", "idempotency_keys",
        # children: each carries its parent's partner_id (migration 0015)
        "webhook_attempts", "claim_attachments", "claim_audit",
    }
)  # fmt: skip
#: small, read on every request, written rarely: a copy on every node
REFERENCE = frozenset(
    {
        "partners", "product_editions", "edition_publications", "trigger_type_publications",
        "data_providers", "provider_keys", "staff", "staff_tokens", "staff_login_failures",
        "stripe_events", "api_keys",
        # the operator's requests (CLI, retention sweep) name no partner, a partner's
        # do; either way a few a day, written once and read by ops only
        "privacy_requests",
    }
)  # fmt: skip
#: keyed by the insured risk (a flight is the same flight whoever sold its cover)
BY_RISK = frozenset({"cover_locks", "policy_subjects", "trigger_events"})
