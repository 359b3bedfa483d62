"""JSON views of quotes, policies and products. Money is always {"amount": "1.23", "currency": "CNY"}."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from policy_service.domain.claims import Claim
from policy_service.domain.events import event_object
from policy_service.domain.money import MINOR_UNITS
from policy_service.domain.records import Policy, Premium, Quote
from policy_service.services.statements import AMOUNTS
from pricing.model import Edition, Product


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, e.g. 2026-11-24T23:48:12.286143Z."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.{MINOR_UNITS[currency]}f}", "currency": currency}


def page(data: list[dict[str, Any]], has_more: bool, url: str) -> dict[str, Any]:
    """The one list shape: {"object": "list", "data": [...], "has_more": bool, "url": ...}."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def premium(p: Premium) -> dict[str, Any]:
    return {
        "total": money(p.total, p.currency),
        "net": money(p.net, p.currency),
        "tax": money(p.tax, p.currency),
        "commission": money(p.commission, p.currency),
        "fees": money(p.fees, p.currency),
    }


def edition_ref(edition_id: str, content_hash: str) -> dict[str, str]:
    return {"id": edition_id, "content_hash": content_hash}


def refund_terms(edition: Edition | None) -> list[dict[str, Any]] | None:
    if edition is None:
        return None
    return [
        {
            "when": rule.when.source if rule.when else None,
            "refund": rule.refund if rule.ratio is None else str(rule.ratio),
            "description": rule.description,
        }
        for rule in edition.cancellation
    ]


def benefits(edition: Edition | None) -> list[dict[str, Any]] | None:
    if edition is None:
        return None
    out = []
    for b in edition.benefits:
        item: dict[str, Any] = {"code": b.code, "description": b.description}
        if b.amount is not None:
            item["amount"] = money(b.amount, edition.currency)
        if b.limit is not None:
            item["limit"] = money(b.limit, edition.currency)
        out.append(item)
    return out


def quote(q: Quote, edition: Edition | None) -> dict[str, Any]:
    return {
        "id": q.id,
        "object": "quote",
        "livemode": q.livemode,
        "product": q.product_code,
        "edition": edition_ref(q.edition, q.content_hash),
        "external_ref": q.external_ref,
        "risk": q.risk,
        "premium": premium(q.premium),
        "coverage": {
            "starts_at": iso(q.coverage_start),
            "ends_at": iso(q.coverage_end),
            "benefits": benefits(edition),
        },
        "refund_terms": refund_terms(edition),
        "worksheet": q.worksheet,
        "expires_at": iso(q.expires_at),
        "created_at": iso(q.created_at),
    }


def policy(p: Policy, edition: Edition | None) -> dict[str, Any]:
    cancellation = None
    if p.cancelled_at is not None:
        cancellation = {
            "reason": p.cancel_reason,
            "cancelled_at": iso(p.cancelled_at),
            "refund": money(p.refund_amount or Decimal(0), p.premium.currency),
        }
    return {
        "id": p.id,
        "object": "policy",
        "livemode": p.livemode,
        "product": p.product_code,
        "edition": edition_ref(p.edition, p.content_hash),
        "quote": p.quote_id,
        "external_ref": p.external_ref,
        "status": p.status,
        "risk": p.risk,
        "policyholder": p.policyholder.public() if p.policyholder else None,
        "premium": premium(p.premium),
        "coverage": {
            "starts_at": iso(p.coverage_start),
            "ends_at": iso(p.coverage_end),
            "benefits": benefits(edition),
        },
        "refund_terms": refund_terms(edition),
        "worksheet": p.worksheet,
        "cancellation": cancellation,
        "payment_intent": p.payment_intent,
        "version": p.version,
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
    }


def product(prod: Product, current: Edition | None, now: datetime) -> dict[str, Any]:
    """A product as partners see it; its example risk as of `now` (it may be relative)."""
    return {
        "code": prod.code,
        "object": "product",
        "name": prod.name,
        "name_zh": prod.name_zh,
        "description": prod.description,
        "policyholder": prod.policyholder,
        "duplicate_cover": None
        if prod.duplicate_cover is None
        else {
            "subject": list(prod.duplicate_cover.subject),
            "per_insured": prod.duplicate_cover.per_insured,
        },
        "current_edition": None
        if current is None
        else {
            "id": current.id,
            "content_hash": current.content_hash,
            "effective_from": iso(current.effective_from),
            "currency": current.currency,
            "quote_valid_minutes": current.quote_valid_minutes,
        },
        "editions": [
            {"id": e.id, "effective_from": iso(e.effective_from), "content_hash": e.content_hash}
            for e in prod.editions
        ],
        "risk_schema": current.inputs.json_schema() if current else None,
        "example_risk": current.example(now) if current else None,
        "eligibility": [
            {"code": r.code, "message": r.message} for r in (current.eligibility if current else ())
        ],
        "benefits": benefits(current),
        "refund_terms": refund_terms(current),
    }


def event(row: Any) -> dict[str, Any]:
    return event_object(row.id, row.type, row.created_at, row.livemode, row.data)


def webhook_endpoint(row: Any, with_secret: bool = False) -> dict[str, Any]:
    out = {
        "id": row.id,
        "object": "webhook_endpoint",
        "livemode": row.livemode,
        "url": row.url,
        "description": row.description,
        "events": list(row.events),
        "status": row.status,
        "disabled_reason": row.disabled_reason,
        "previous_secret_expires_at": iso(row.previous_secret_expires_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if with_secret:
        out["secret"] = row.secret
    return out


def without_secret(created: dict[str, Any]) -> dict[str, Any]:
    """A created webhook endpoint or API key as its Idempotency-Key remembers it: the
    secret was shown once."""
    return {key: value for key, value in created.items() if key != "secret"}


def api_key(key: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": key.id,
        "object": "api_key",
        "livemode": key.livemode,
        "hint": key.hint,
        "scopes": list(key.scopes),
        "status": key.status(now),
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


def delivery(view: Any) -> dict[str, Any]:
    d = view.delivery
    return {
        "id": d.id,
        "object": "webhook_delivery",
        "event": d.event_id,
        "endpoint": d.endpoint_id,
        "url": d.url,
        "status": d.status,
        "attempt_count": d.attempt_count,
        "next_attempt_at": iso(d.next_attempt_at),
        "delivered_at": iso(d.delivered_at),
        "created_at": iso(d.created_at),
        "attempts": [
            {
                "number": a.number,
                "started_at": iso(a.started_at),
                "finished_at": iso(a.finished_at),
                "outcome": a.outcome,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "response_excerpt": a.response_excerpt,
                "next_retry_at": iso(a.next_retry_at),
            }
            for a in view.attempts
        ],
    }


def _minor_money(minor: int, currency: str) -> dict[str, str]:
    exp = MINOR_UNITS[currency]
    return money(Decimal(minor).scaleb(-exp), currency)


def statement_summary(month: Any, livemode: bool) -> dict[str, Any]:
    """A month in the list of statements (services.statements.Summary)."""
    return {
        "id": month.id,
        "object": "statement",
        "livemode": livemode,
        "period": month.period,
        "status": month.status,
        "billing_mode": month.billing_mode,
        "closed_at": iso(month.closed_at),
        "line_count": month.line_count,
        "totals": None
        if month.totals is None
        else [{k: _minor_money(t.get(k, 0), t["currency"]) for k in AMOUNTS} for t in month.totals],
        "url": f"/v1/statements/{month.id}"
        if month.id
        else f"/v1/statements?period={month.period}",
    }


def statement(st: Any, livemode: bool) -> dict[str, Any]:
    return {
        "id": st.id,
        "object": "statement",
        "livemode": livemode,
        "period": st.period,
        "status": st.status,
        "billing_mode": st.billing_mode,
        "closed_at": iso(st.closed_at),
        "totals": [
            {
                # statements closed before claims existed have no payout total
                k: _minor_money(t.get(k, 0), t["currency"])
                for k in AMOUNTS
            }
            for t in st.totals
        ],
        "lines": [
            {
                "policy": line.policy,
                "external_ref": line.external_ref,
                "product": line.product,
                **{k: _minor_money(getattr(line, k), line.currency) for k in AMOUNTS},
                "late": line.late,
            }
            for line in st.lines
        ],
    }


STATEMENT_CSV_COLUMNS = (
    "policy",
    "external_ref",
    "product",
    "currency",
    "premium",
    "tax",
    "commission",
    "fees",
    "refund",
    "payout",
    "net_due",
    "late",
)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run: one starting like a formula (= + - @, tab,
    CR) gets a leading ' (OWASP's advice). Amounts are ours and stay numbers."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def statement_csv(st: Any) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_CSV_COLUMNS)

    def amount(minor: int, currency: str) -> str:
        return _minor_money(minor, currency)["amount"]

    for line in st.lines:
        writer.writerow(
            [csv_text(line.policy), csv_text(line.external_ref or ""), line.product, line.currency]
            + [amount(getattr(line, k), line.currency) for k in AMOUNTS]
            + ["true" if line.late else "false"]
        )
    for t in st.totals:
        writer.writerow(
            ["TOTAL", "", "", t["currency"]]
            + [amount(t.get(k, 0), t["currency"]) for k in AMOUNTS]
            + [""]
        )
    return out.getvalue()


# -- claims ------------------------------------------------------------------------------


def _opt_money(amount: Decimal | None, currency: str) -> dict[str, str] | None:
    return None if amount is None else money(amount, currency)


def claim(c: Claim) -> dict[str, Any]:
    """A claim as partners (and webhooks) see it: staff identities are not shown."""
    return {
        "id": c.id,
        "object": "claim",
        "livemode": c.livemode,
        "policy": c.policy_id,
        "product": c.product_code,
        "edition": edition_ref(c.edition, c.content_hash),
        "origin": c.origin,
        "type": c.type,
        "status": c.status,
        "amount_claimed": _opt_money(c.amount_claimed, c.currency),
        "amount_approved": _opt_money(c.amount_approved, c.currency),
        "amount_paid": _opt_money(c.amount_paid, c.currency),
        "description": c.description,
        "evidence": c.evidence,
        "trigger_event": c.trigger_event_id,
        "observed_at": iso(c.observed_at),
        "event_time": iso(c.event_time),
        "evaluation": c.evaluation,
        "corrections": c.corrections,
        "signals": c.signals,
        "review": {
            "information_requested_at": iso(c.info_requested_at),
            "second_approval_pending": c.first_approval is not None and c.status == "in_review",
        },
        "decision": None
        if c.decided_at is None
        else {
            "decided_at": iso(c.decided_at),
            "by": "system" if c.decided_by == "system" else "staff",
            "reason": c.decision_reason,
            "reject_code": c.reject_code,
        },
        "paid_at": iso(c.paid_at),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def attachment(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "claim_attachment",
        "claim": row.claim_id,
        "file_name": row.file_name,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "created_at": iso(row.created_at),
    }


def payout(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "sequence": row.sequence,
        "method": row.method,
        "status": row.status,
        "amount": _minor_money(row.amount, row.currency),
        "stripe_refund": row.stripe_refund,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "updated_at": iso(row.updated_at),
    }


def audit_entry(row: Any) -> dict[str, Any]:
    return {
        "at": iso(row.at),
        "actor": {"type": row.actor_type, "id": row.actor_id},
        "action": row.action,
        "from_status": row.from_status,
        "to_status": row.to_status,
        "reason": row.reason,
        "before": row.before,
        "after": row.after,
    }


def trigger_event(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "trigger_event",
        "livemode": row.livemode,
        "type": row.type,
        "data": row.data,
        "observed_at": iso(row.observed_at),
        "received_at": iso(row.received_at),
        "event_time": iso(row.event_time),
        "status": row.status,
        "result": row.result,
    }
