"""The issue, cancel and claim-decision use cases on an in-memory unit of work: no database,
a few milliseconds each. The same use cases run on SQLite and PostgreSQL in tests/api/."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from policy_service.domain.claims import ClaimStatus
from policy_service.domain.errors import PermissionDenied
from policy_service.domain.records import ALL_SCOPES, Caller
from policy_service.presentation.errors import error_body
from policy_service.services import cancellation, claim_decisions, issue_transaction, issuing
from policy_service.services.catalog import ProductCatalog
from policy_service.services.claims import Actor, ClaimsContext, new_claim
from pricing.claims import benefit_cap
from tests.conftest import PRODUCTS, passenger
from tests.fakes import FakeUnitOfWork

NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
CALLER = Caller("ptn_fake", False, "key_fake", frozenset(ALL_SCOPES))
CATALOG = ProductCatalog(PRODUCTS, None, 0, lambda: NOW)
CATALOG.reload()
CODES = sorted(p.code for p in CATALOG.all())


def _issuing(uow: FakeUnitOfWork) -> issuing.Issuing:
    return issuing.Issuing(
        uow,  # type: ignore[arg-type]
        CATALOG,
        b"pii-key",
        lambda: NOW,
        "Asia/Shanghai",
        lambda p: (201, {"id": p.id}),
        error_body,
    )


def _claims(uow: FakeUnitOfWork) -> ClaimsContext:
    from policy_service.adapters.file_store import FileStore

    return ClaimsContext(
        uow,  # type: ignore[arg-type]
        CATALOG,
        lambda c: {"id": c.id, "status": c.status},
        "Asia/Shanghai",
        Decimal("200.00"),
        FileStore(PRODUCTS / "nowhere"),
        1000,
        lambda p: {"id": p.id, "status": p.status},
    )


def _body(code: str, ref: str, holder: int = 1) -> dict[str, Any]:
    product = CATALOG.get(code)
    assert product is not None
    body: dict[str, Any] = {
        "product": code,
        "external_ref": ref,
        "risk": product.edition_at(NOW).example(NOW),  # type: ignore[union-attr]
    }
    if product.policyholder != "none":
        body["policyholder"] = passenger(
            "11010519491231002X" if holder == 1 else "440524198801010011"
        )
    return body


def _other_subject(code: str, body: dict[str, Any]) -> dict[str, Any]:
    """Another insured subject: another person, or (per order) another order's number."""
    product = CATALOG.get(code)
    assert product is not None
    rule = product.duplicate_cover
    if rule is not None and not rule.per_insured:
        risk = dict(body["risk"])
        specs = product.editions[-1].inputs.by_name
        # one free-text part of the subject changed is another subject (an enumeration's
        # value cannot take a suffix)
        name = next(
            n
            for n in rule.subject
            if isinstance(risk.get(n), str) and not (n in specs and specs[n].enum)
        )
        risk[name] += "2"
        body = {**body, "risk": risk}
    return body


def _issue(uow: FakeUnitOfWork, body: dict[str, Any], key: str | None = None) -> Any:
    item = issuing.prepare_one(_issuing(uow), CALLER, body, key)
    (outcome,) = issue_transaction.issue_many(_issuing(uow), CALLER, [item]).outcomes
    return outcome


@pytest.mark.parametrize("code", CODES)
def test_issue_writes_the_policy_its_cover_its_premium_and_its_event_once(code: str) -> None:
    uow = FakeUnitOfWork()
    first = _issue(uow, _body(code, "order-1"), key="k-1")
    assert first.status == 201
    (policy,) = uow.policies.rows.values()
    assert len(uow.policies.covers) == (1 if CATALOG.get(code).duplicate_cover else 0)  # type: ignore[union-attr]
    (premium,) = uow.ledger.rows
    assert premium[4].kind == "premium" and premium[4].amount > 0
    assert [e.type for e in uow.events.rows] == ["policy.issued"]
    # the same key and body: the stored answer, nothing written again
    again = _issue(uow, _body(code, "order-1"), key="k-1")
    assert again.replayed and again.body == first.body and len(uow.policies.rows) == 1
    # another order for the same insured subject: refused as duplicate cover
    second = _issue(uow, _body(code, "order-2"))
    if CATALOG.get(code).duplicate_cover:  # type: ignore[union-attr]
        assert second.status == 422 and "duplicate_cover" in second.body
        assert len(uow.policies.rows) == 1 and policy.id in uow.policies.rows


@pytest.mark.parametrize("code", CODES)
def test_cancel_refunds_by_the_rule_unless_a_claim_pays(code: str) -> None:
    uow = FakeUnitOfWork()
    _issue(uow, _body(code, "order-1"))
    _issue(uow, _other_subject(code, _body(code, "order-2", holder=2)))
    first, second = uow.policies.rows.values()
    ctx = _claims(uow)
    with uow.write() as tx:
        cancelled, _ = cancellation.cancel_policy(ctx, tx, CALLER, first.id, "other", NOW)
    assert cancelled.status == "cancelled" and cancelled.refund_amount == first.premium.total
    assert uow.policies.covers == {} or first.id not in uow.policies.covers.values()
    # a paid claim on the other policy: its cancellation refunds nothing
    paid = replace(
        new_claim(second, second.premium.currency, "loss", "filed", "x", NOW),
        status=ClaimStatus.PAID.value,
        amount_approved=Decimal("1.00"),
        amount_paid=Decimal("1.00"),
    )
    uow.claims.rows[paid.id] = paid
    with uow.write() as tx:
        cancelled, _ = cancellation.cancel_policy(ctx, tx, CALLER, second.id, "other", NOW)
    assert cancelled.refund_amount == Decimal("0.00")
    assert [r["policy_id"] for r in uow.payments.refunds] == [first.id]


def _claim_in_review(uow: FakeUnitOfWork, amount: str) -> Any:
    _issue(uow, _body(CODES[0], "order-1"))
    (policy,) = uow.policies.rows.values()
    edition = CATALOG.edition(policy.product_code, policy.edition)
    assert edition is not None
    claim = replace(
        new_claim(
            policy,
            edition.currency,
            "loss",
            "filed",
            edition.benefits[0].code,
            NOW,
            amount_claimed=Decimal(amount),
            benefit_cap=benefit_cap(edition),
        ),
        status=ClaimStatus.IN_REVIEW.value,
    )
    uow.claims.rows[claim.id] = claim
    return claim


def test_an_approval_pays_the_claim_with_a_ledger_entry_and_an_event() -> None:
    uow = FakeUnitOfWork()
    claim = _claim_in_review(uow, "20.00")
    staff = Actor("staff", "stf_1", "reviewer", "li.na@ops.example")
    approve = claim_decisions.Decision("approve", reason="letter checked")
    after = claim_decisions.decide(_claims(uow), claim.id, staff, approve, NOW + timedelta(hours=1))
    assert after.status == "paid" and after.amount_paid == Decimal("20.00")
    (payout,) = uow.claims.payouts
    assert payout["amount"] == 2000 and payout["sequence"] == 1 and payout["paid_before"] is None
    assert [row[4].kind for row in uow.ledger.rows] == ["premium", "payout"]
    assert [a["action"] for a in uow.claims.audit_rows] == ["approve", "pay"]
    assert [e.type for e in uow.events.rows][-1] == "claim.paid"


def test_above_the_limit_the_same_person_cannot_approve_twice() -> None:
    uow = FakeUnitOfWork()
    claim = _claim_in_review(uow, "250.00")
    cap = uow.claims.rows[claim.id].benefit_cap
    if cap is not None and cap < Decimal("250.00"):
        pytest.skip("the first product's largest benefit is below the second-approval limit")
    staff = Actor("staff", "stf_1", "approver", "zhao.min@ops.example")
    approve = claim_decisions.Decision("approve", reason="letter checked")
    first = claim_decisions.decide(_claims(uow), claim.id, staff, approve, NOW)
    assert first.status == "in_review" and first.first_approval is not None
    with pytest.raises(PermissionDenied):
        claim_decisions.decide(_claims(uow), claim.id, staff, approve, NOW)
    assert uow.claims.payouts == [] and uow.claims.rows[claim.id].status == "in_review"
