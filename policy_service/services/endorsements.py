"""Endorsing a policy: the partner changes what the product lets change after issue (a
passenger rebooked onto another flight, an order's value, the policyholder's name or
phone), until the product's deadline.

One transaction, on the locked policy:
  1. the change is checked against product.yaml's `endorsements:` section: which fields
     may change, and the rules that refuse a change, each read at `now` on the policy as
     it stands and on the policy as it would become;
  2. a claim on the policy (any but a rejected one) refuses it: its loss belongs to the
     risk as it was;
  3. the new risk is priced on the policy's pinned edition at the policy's own pricing
     time (priced_at), so that the premium difference is the risk's alone and not a
     later price list's, and it must be eligible now (a flight too close is refused);
  4. the cover lock moves to the new risk (a second cover of it is refused as at issue),
     and so do the keys trigger reports find the policy by: a report on the old flight
     no longer reaches it, one on the new flight does. The change takes the locks a
     report on either subject takes, so the two never run across each other, and a
     report already received on the new subject refuses it;
  5. the endorsement (before and after), the policy's next version, the premium
     difference in the ledger, and a policy.endorsed event, written together.

Partner-settled billing books the difference for the monthly statement (more premium,
or premium given back). Stripe billing moves it through the payment API
(services/endorsement_billing.py): a higher premium is charged before the change is made,
a lower one refunded after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from policy_service.adapters import events_repo
from policy_service.domain.errors import BusinessRefusal, Conflict, InvalidRequest, ProductDefect
from policy_service.domain.ids import new_id
from policy_service.domain.ledger import endorsement_entry, period_of
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.domain.money import MINOR_UNITS, to_minor
from policy_service.domain.policyholder import parse_contact_change
from policy_service.domain.records import Caller, Endorsement, Policy
from pricing import engine
from pricing.claims import policy_subject_keys
from pricing.errors import EvaluationError
from pricing.model import Edition, EndorsementRule, Product

from .catalog import ProductCatalog
from .claims import pinned_edition
from .issuing import cover_key
from .outbox import record_events
from .policies import policy_of
from .rating import parse_risk, premium_of, price_risk
from .triggers import partner_scoped
from .unit_of_work import Tx, UnitOfWork

#: the JSON of a policy.endorsed event's object (the endorsement, with the policy after it)
RenderEndorsement = Callable[[Endorsement, Policy], dict[str, Any]]

_FIELDS = {"risk", "policyholder"}


@dataclass(frozen=True)
class Change:
    """An endorsement checked and priced, on the locked policy, ready to write."""

    product: Product
    edition: Edition
    before: Policy
    after: Policy
    endorsement: Endorsement

    @property
    def difference(self) -> int:
        """The premium difference in minor units (more premium: positive)."""
        after, before = self.after.premium, self.before.premium
        return to_minor(after.total, after.currency) - to_minor(before.total, before.currency)


def endorse(
    catalog: ProductCatalog,
    tx: Tx,
    caller: Caller,
    policy_id: str,
    body: dict[str, Any],
    now: datetime,
    settlement_timezone: str,
    render: RenderEndorsement,
) -> tuple[Endorsement, Policy]:
    """Change a partner-settled policy as `body` asks ({risk?: {...}, policyholder?:
    {name?, phone?}}); returns the endorsement and the policy after it (see the module's
    docstring). The partner collects the difference: it is booked for its statement."""
    change = prepare(catalog, tx, caller, policy_id, body, now)
    if caller.billing_mode != "partner_settled" and change.difference:  # pragma: no cover
        raise AssertionError("a stripe-billed difference is moved by endorsement_billing")
    write(tx, change, now, settlement_timezone, render, collected_by="partner")
    return change.endorsement, change.after


def prepare(
    catalog: ProductCatalog,
    tx: Tx,
    caller: Caller,
    policy_id: str,
    body: dict[str, Any],
    now: datetime,
) -> Change:
    """Check and price the change `body` asks for, holding the policy's row and the locks
    of its subjects until the transaction ends; raises naming the field or the refusal."""
    unknown = set(body) - _FIELDS
    if unknown:
        raise InvalidRequest("is not a field of an endorsement", param=sorted(unknown)[0])
    if not body.get("risk") and not body.get("policyholder"):
        raise InvalidRequest("give the risk fields or policyholder details to change", param="risk")
    policy = policy_of(tx, caller, policy_id)  # read first, to know what to lock
    product = catalog.get(policy.product_code)
    rules = product.endorsements if product is not None else None
    if product is None or rules is None:
        raise BusinessRefusal(
            f"a {policy.product_code} policy cannot change after issue",
            code="not_endorsable",
        )
    if policy.status != PolicyStatus.ACTIVE.value:
        raise Conflict(
            f"policy {policy.id} is {policy.status.replace('_', ' ')}; only a policy in force "
            "can change",
            code="policy_not_active",
        )
    edition = pinned_edition(catalog, policy)
    after = _changed(policy, product, edition, body, now)
    policy = _locked(tx, caller, edition, policy, after)
    _refuse_by_rules(edition, rules.refuse, policy, after, now)
    # and the new risk must be one the edition would sell now (a flight too close is not)
    price_risk(edition, edition.inputs.parse(after.risk), now)
    claims = [c for c in tx.claims.of_policy(policy.id, for_update=True) if c.status != "rejected"]
    if claims:
        raise Conflict(
            f"policy {policy.id} has claim {claims[0].id}; a policy with a claim cannot change",
            code="claim_exists",
            details={"claim": claims[0].id},
        )
    endorsement = Endorsement(
        id=new_id("end"),
        partner_id=policy.partner_id,
        livemode=policy.livemode,
        policy_id=policy.id,
        version=policy.version + 1,
        risk_before=policy.risk,
        risk_after=after.risk,
        holder_before=_contact(policy),
        holder_after=_contact(after),
        premium_before=policy.premium,
        premium_after=after.premium,
        coverage_before=(policy.coverage_start, policy.coverage_end),
        coverage_after=(after.coverage_start, after.coverage_end),
        created_at=now,
    )
    return Change(product, edition, policy, after, endorsement)


def _subjects(edition: Edition, policy: Policy) -> set[str]:
    risk = edition.inputs.parse(policy.risk)
    return policy_subject_keys(edition, risk, policy.external_ref, policy.livemode)


def _report_keys(keys: set[str], partner_id: str) -> list[str]:
    """The keys reports on these subjects are stored and locked under: a provider's, and a
    partner's own test-mode simulation (services/triggers.py)."""
    return sorted(keys | {partner_scoped(k, partner_id) for k in keys})


def _locked(tx: Tx, caller: Caller, edition: Edition, policy: Policy, after: Policy) -> Policy:
    """Take the locks a trigger report on the old or the new subject takes, then the
    policy's row: a report and the change run one after the other, never across each
    other. A report already received on the new subject refuses the change: a policy
    never moves onto a loss that may have happened."""
    old, new = _subjects(edition, policy), _subjects(edition, after)
    tx.triggers.lock_subjects(_report_keys(old | new, policy.partner_id))
    locked = policy_of(tx, caller, policy.id, for_update=True)
    if (locked.version, locked.status) != (policy.version, policy.status):
        raise Conflict("the policy changed meanwhile; retry", code="concurrent_update")
    if new - old and tx.triggers.reported_on(_report_keys(new - old, policy.partner_id)):
        raise BusinessRefusal(
            "a report on the new subject (the flight, the order) has already been received: "
            "a policy cannot move onto a loss that may have happened",
            code="subject_already_reported",
        )
    return locked


def _changed(
    policy: Policy, product: Product, edition: Edition, body: dict[str, Any], now: datetime
) -> Policy:
    """The policy as the change would make it, priced; raises naming the field."""
    rules = product.endorsements
    assert rules is not None
    changes = body.get("risk") or {}
    if not isinstance(changes, dict):
        raise InvalidRequest("must be an object of the inputs to change", param="risk")
    for name in sorted(changes):
        if name not in rules.risk:
            may = ", ".join(rules.risk) or "none"
            raise InvalidRequest(
                f"cannot change after issue; {product.code} lets change: {may}",
                param=f"risk.{name}",
            )
    holder = policy.policyholder
    if body.get("policyholder") is not None:
        contact = parse_contact_change(body["policyholder"], rules.policyholder)
        if holder is None:
            raise InvalidRequest("the policy names no policyholder", param="policyholder")
        holder = replace(holder, **contact)
    risk = parse_risk(edition, {**policy.risk, **changes})
    # At the policy's own pricing time: the difference is the risk's, not a new price's.
    priced_at = policy.priced_at or policy.created_at
    priced = price_risk(edition, risk, priced_at)
    assert priced.coverage_start is not None and priced.coverage_end is not None
    after = replace(
        policy,
        risk=edition.inputs.to_json(risk),
        policyholder=holder,
        premium=premium_of(priced),
        coverage_start=priced.coverage_start,
        coverage_end=priced.coverage_end,
        version=policy.version + 1,
        updated_at=now,
        # the views make the worksheet again from the risk at priced_at (a policy from
        # before 0008 stored its own: from now on it is made again too)
        worksheet=None,
        priced_at=priced_at,
    )
    if after.risk == policy.risk and _contact(after) == _contact(policy):
        raise InvalidRequest("changes nothing: every value is the policy's already", param="risk")
    return after


def _refuse_by_rules(
    edition: Edition,
    rules: tuple[EndorsementRule, ...],
    before: Policy,
    after: Policy,
    now: datetime,
) -> None:
    """The product's rules, read on the policy as it stands and as it would become."""
    refused: dict[str, str] = {}
    for side in (before, after):
        try:
            found = engine.endorsement_refusals(
                edition,
                rules,
                edition.inputs.parse(side.risk),
                side.coverage_start,
                side.coverage_end,
                side.created_at,
                now,
            )
        except EvaluationError as exc:
            raise ProductDefect(
                f"product {edition.ref} could not read its endorsement rules ({exc}); the "
                "product team has been alerted and nothing was changed"
            ) from None
        refused.update({r.code: r.message for r in found})
    if refused:
        first = next(iter(refused))
        raise BusinessRefusal(
            "; ".join(refused.values()),
            code=first,
            details={"reasons": [{"code": c, "message": m} for c, m in refused.items()]},
        )


def _contact(policy: Policy) -> dict[str, Any] | None:
    holder = policy.policyholder
    return None if holder is None else {"name": holder.name, "phone": holder.phone}


def write(
    tx: Tx,
    change: Change,
    now: datetime,
    settlement_timezone: str,
    render: RenderEndorsement,
    collected_by: str | None,
) -> None:
    """Make the prepared change. `collected_by` books the difference now (the partner's
    statement, or money we already took); None leaves it to the refund that gives it back."""
    product, edition, before, after = change.product, change.edition, change.before, change.after
    endorsement = change.endorsement
    if not tx.policies.update_endorsed(before, after):
        raise Conflict("the policy changed meanwhile; retry", code="concurrent_update")
    tx.policies.release_covers([before.id])
    risk = edition.inputs.parse(after.risk)
    key = cover_key(product, risk, after.external_ref, after.partner_id, after.policyholder)
    if key is not None and not tx.policies.lock_covers(
        after.partner_id, after.livemode, [(after.product_code, key, after.id)], now
    ):
        raise BusinessRefusal(
            f"a {after.product_code} policy covering the new risk is already in force",
            code="duplicate_cover",
        )
    tx.triggers.replace_subjects(
        after.id,
        after.partner_id,
        sorted(policy_subject_keys(edition, risk, after.external_ref, after.livemode)),
    )
    tx.endorsements.insert(endorsement)
    entry = endorsement_entry(before.premium, after.premium, MINOR_UNITS[after.premium.currency])
    if entry is not None and collected_by is not None:
        tx.ledger.insert_entries(
            [
                (
                    after.partner_id,
                    after.id,
                    after.livemode,
                    collected_by,
                    entry,
                    now,
                    period_of(now, settlement_timezone),
                )
            ],
            endorsement_id=endorsement.id,
        )
    record_events(
        tx,
        [
            events_repo.NewEvent(
                id=new_id("evt"),
                partner_id=after.partner_id,
                livemode=after.livemode,
                type="policy.endorsed",
                object_type="policy",
                object_id=after.id,
                data=json.loads(json.dumps(render(endorsement, after))),
                created_at=now,
            )
        ],
    )


def list_endorsements(uow: UnitOfWork, caller: Caller, policy_id: str) -> list[Endorsement]:
    """A policy's endorsements, oldest first."""
    with uow.read() as tx:
        return tx.endorsements.of_policy(policy_of(tx, caller, policy_id).id)
