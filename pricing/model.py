"""The compiled product model: what a product folder means once loaded and checked."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from .errors import ProductFileError
from .expressions import Expression
from .inputs import InputSet, InputSpec
from .tables import Table, ValueTable
from .triggers import TriggerType

ROUNDING_MODES = {
    "half_up": "ROUND_HALF_UP",
    "half_even": "ROUND_HALF_EVEN",
    "half_down": "ROUND_HALF_DOWN",
    "up": "ROUND_UP",
    "down": "ROUND_DOWN",
    "ceiling": "ROUND_CEILING",
    "floor": "ROUND_FLOOR",
}
#: who a product must name: the insured person is required, optional, or not asked for
POLICYHOLDER_RULES = ("required", "optional", "none")


@dataclass(frozen=True)
class EligibilityRule:
    code: str
    message: str
    refuse_when: Expression


@dataclass(frozen=True)
class Derived:
    """A value computed from the inputs and earlier derived values: by an expression, or
    (expr None) looked up in a table keyed on some of them."""

    spec: InputSpec
    expr: Expression | None
    table: ValueTable | None = None

    def value(self, env: dict[str, Any]) -> Any:
        """The value for what the expressions see so far (`now`, inputs, earlier values)."""
        if self.expr is not None:
            return self.expr(env)
        assert self.table is not None
        return self.table.lookup(env)


@dataclass(frozen=True)
class Factor:
    name: str
    table: Table


@dataclass(frozen=True)
class Loading:
    name: str
    rate: Decimal | None  # multiplies by (1 + rate)
    amount: Decimal | None  # adds a fixed amount
    when: Expression | None


@dataclass(frozen=True)
class Fee:
    name: str
    amount: Decimal


@dataclass(frozen=True)
class Rating:
    base: Decimal
    factors: tuple[Factor, ...]
    loadings: tuple[Loading, ...]
    minimum: Decimal | None
    maximum: Decimal | None
    rounding_step: Decimal
    rounding_mode: str  # a key of ROUNDING_MODES
    tax_name: str
    tax_rate: Decimal
    tax_basis: str  # "inclusive": tax is inside the premium; "added": on top of it
    commission_rate: Decimal
    fees: tuple[Fee, ...]


@dataclass(frozen=True)
class RefundRule:
    when: Expression | None  # None: always applies (the last rule)
    refund: str  # full | none | pro_rata | ratio
    ratio: Decimal | None
    description: str


@dataclass(frozen=True)
class Benefit:
    code: str
    description: str
    amount: Decimal | None  # fixed benefit
    limit: Decimal | None  # "actual cost up to" benefits


@dataclass(frozen=True)
class ClaimRule:
    code: str
    trigger: str
    #: ways of matching a trigger to a policy; each names inputs (or external_ref) that
    #: the trigger carries too. The first way the trigger completes is used.
    match: tuple[tuple[str, ...], ...]
    when: Expression
    #: what the rule pays; None for a rule that refunds instead (see `refund`)
    payout: Expression | None
    review_when: Expression | None
    description: str = ""
    #: "full": the rule voids the policy with its whole premium refunded instead of paying
    #: (a flight cancelled long ahead is a schedule change, not a loss)
    refund: str | None = None


@dataclass(frozen=True)
class ClaimReview:
    """When a claim goes to people instead of being paid: the product's thresholds."""

    #: a claim above this amount is reviewed (None: no limit of the product's own)
    auto_approve_up_to: Decimal | None = None
    #: a loss this soon after the policy was issued is suspicious (None: not checked)
    soon_after_issue_hours: Decimal | None = None
    #: more claims than this by one policyholder within `repeat_claims_days` is suspicious
    repeat_claims_max: int = 5
    repeat_claims_days: int = 30


@dataclass(frozen=True)
class Edition:
    product: str
    id: str
    effective_from: datetime
    content_hash: str
    currency: str
    timezone: tzinfo
    timezone_name: str
    quote_valid_minutes: int
    inputs: InputSet
    derived: tuple[Derived, ...]
    eligibility: tuple[EligibilityRule, ...]
    coverage_starts: Expression
    coverage_ends: Expression
    benefits: tuple[Benefit, ...]
    rating: Rating
    cancellation: tuple[RefundRule, ...]
    claims: tuple[ClaimRule, ...]
    claim_review: ClaimReview
    #: the example risk as written; values may be expressions of `now` (see example())
    example_risk: dict[str, Any]
    #: the longest cover the edition sells (None: no limit of its own)
    longest_cover: timedelta | None = None
    #: a cancellation while a claim is open: "refuse" (409) or "reject_claim" (the open
    #: claim is rejected, the refund rule applies)
    cancel_while_claim_open: str = "refuse"
    #: example values written as expressions of `now`, e.g. now + days(30)
    example_expressions: dict[str, Expression] = field(
        repr=False, compare=False, default_factory=dict
    )
    #: relative path -> text of every file of the edition, as hashed
    files: dict[str, str] = field(repr=False, compare=False, default_factory=dict)
    #: the edition.yaml document as data (for display and semantic diffs)
    document: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    #: what pricing compiles from the edition (its pricing plan, pricing/plan.plan_of),
    #: made on first use and kept as long as the edition
    compiled: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    #: what loads but is probably not meant (a claim rule never reached, a benefit no
    #: rule pays): `products validate` shows them, nothing is refused for them
    warnings: tuple[ProductFileError, ...] = field(repr=False, compare=False, default=())

    @property
    def ref(self) -> str:
        return f"{self.product}/{self.id}"

    def example(self, now: datetime) -> dict[str, Any]:
        """The example risk as JSON for a quote made at `now`."""
        out = dict(self.example_risk)
        for name, expr in self.example_expressions.items():
            out[name] = self.inputs.by_name[name].to_json(expr({"now": now}))
        return out


@dataclass(frozen=True)
class EndorsementRule:
    """A reason to refuse a change of a policy: `when` (compiled for each edition, by its
    id) is read on the policy as it stands and on the policy as it would become."""

    code: str
    message: str
    when: dict[str, Expression] = field(compare=False)


#: the policyholder's details a partner may change after issue (the ID never changes: it
#: is who is insured)
ENDORSABLE_HOLDER_FIELDS = ("name", "phone")


@dataclass(frozen=True)
class Endorsements:
    """What may change after issue (product.yaml `endorsements:`), and until when."""

    risk: tuple[str, ...]
    policyholder: tuple[str, ...]
    refuse: tuple[EndorsementRule, ...]


@dataclass(frozen=True)
class DuplicateCover:
    """Who may not be covered twice: the same subject (and insured person, if set)."""

    subject: tuple[str, ...]
    per_insured: bool


@dataclass(frozen=True)
class TriggerCase:
    """A fact in a test case: what a data provider would report about the risk."""

    type: TriggerType
    #: the fact's fields, parsed
    values: dict[str, Any]
    observed_at: datetime


@dataclass(frozen=True)
class TestCase:
    """One case of tests.yaml: a risk quoted at `quoted_at` (and issued then), with what is
    expected of its premium, of a reported fact (`trigger`), or of a cancellation."""

    name: str
    line: int | None
    edition: str | None
    quoted_at: datetime
    risk: dict[str, Any]
    expect: dict[str, Any]
    trigger: TriggerCase | None = None
    cancel_at: datetime | None = None
    external_ref: str = "test-case"

    @property
    def kind(self) -> str:
        """premium, claim or refund."""
        if self.trigger is not None:
            return "claim"
        return "premium" if self.cancel_at is None else "refund"


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    name_zh: str
    description: str
    policyholder: str  # required | optional | none
    duplicate_cover: DuplicateCover | None
    editions: tuple[Edition, ...]  # sorted by effective_from
    tests: tuple[TestCase, ...]
    tests_file: str
    #: None: a policy of this product never changes after issue
    endorsements: Endorsements | None = None
    description_zh: str = ""
    #: refusal reasons (eligibility and endorsement codes) in Chinese, by code
    messages_zh: dict[str, str] = field(default_factory=dict, compare=False)
    #: inputs naming the insured thing (an order number), never priced on: an exported
    #: book carries their keyed hash (pricing/identifiers.py)
    identifiers: tuple[str, ...] = ()
    #: warnings about product.yaml itself
    file_warnings: tuple[ProductFileError, ...] = field(default=(), compare=False)

    @property
    def warnings(self) -> tuple[ProductFileError, ...]:
        """product.yaml's warnings, then every edition's, oldest edition first."""
        return self.file_warnings + tuple(w for e in self.editions for w in e.warnings)

    def edition_at(self, when: datetime) -> Edition | None:
        """The edition in force at `when`: the latest whose effective_from is not after it."""
        starts = [e.effective_from for e in self.editions]
        i = bisect_right(starts, when) - 1
        return self.editions[i] if i >= 0 else None

    def edition(self, edition_id: str) -> Edition | None:
        for e in self.editions:
            if e.id == edition_id:
                return e
        return None

    def pinned(self, edition_id: str, content_hash: str) -> Edition | None:
        """The edition a policy or quote was priced on, only if its files are still those
        (the same content hash): its rules are then the ones that were sold."""
        edition = self.edition(edition_id)
        return edition if edition is not None and edition.content_hash == content_hash else None

    def named_edition(self, edition_id: str) -> Edition:
        """The edition `edition_id`; LookupError naming the editions there are."""
        edition = self.edition(edition_id)
        if edition is None:
            known = ", ".join(e.id for e in self.editions)
            raise LookupError(f"{self.code} has no edition {edition_id} (editions: {known})")
        return edition
