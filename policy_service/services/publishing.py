"""Putting editions on sale: publish, withdraw, the state of a product's editions, and the
editions a running catalog may sell.

A file dropped into products/ is validated and registered, but nothing is sold on it until
someone publishes it; each publish and withdraw is recorded (who, when, which hash). The
first start on an empty database publishes the editions on disk already in force, so a
fresh install sells its shipped products.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from policy_service.domain.errors import Conflict, InvalidRequest, NotFound
from policy_service.domain.publication import (
    EditionState,
    EditionStatus,
    Publication,
    PublicationAction,
    edition_states,
    latest_publications,
    never_in_force,
)
from pricing.errors import ProductFileError, ProductInvalid
from pricing.loader import TriggerTypes, load_recorded_edition
from pricing.model import Edition, Product
from pricing.testcases import run_product

from .unit_of_work import Tx, UnitOfWork

log = logging.getLogger(__name__)

FIRST_START_ACTOR = "policy-service (first start)"


@dataclass(frozen=True)
class Serving:
    """What a catalog sells of a product: only its editions on sale, plus why others are not."""

    product: Product
    warnings: list[str]


@dataclass(frozen=True)
class Published:
    edition: Edition
    publication: Publication
    #: False when this exact content was already published (nothing recorded)
    recorded: bool
    #: its effective_from has passed: it sells now
    in_force_now: bool
    #: the edition it replaces now (in_force_now), or that sells until it comes into force
    #: (None: no other published edition is in force)
    other: Edition | None


def _latest(tx: Tx, product_code: str) -> dict[str, Publication]:
    return latest_publications(tx.editions.publications(product_code))


def register_editions(
    tx: Tx,
    product: Product,
    now: datetime,
    latest: dict[str, Publication] | None = None,
) -> None:
    """Record every edition in the database; refuse a used edition whose files changed.

    An unused edition's record follows its files, unless it is published: then the record
    keeps the published content until it is published again (so that restoring the files
    puts it back on sale, and processes that have not reloaded yet agree with the record).
    """
    if latest is None:
        latest = _latest(tx, product.code)
    errors: list[ProductFileError] = []
    for edition in product.editions:
        stored_hash = tx.editions.register(edition, now)
        if stored_hash is None:
            continue
        if tx.editions.is_used(edition.ref):
            errors.append(
                ProductFileError(
                    f"{product.code}/editions/{edition.id}",
                    None,
                    "",
                    f"edition {edition.id} is already used by quotes or policies and may not "
                    f"change (recorded {stored_hash}, files now {edition.content_hash}); restore "
                    "its files, and publish a new edition with a later effective_from instead",
                )
            )
        elif (pub := latest.get(edition.id)) is None or pub.action is PublicationAction.WITHDRAW:
            tx.editions.replace_unused(edition, now)
    if errors:
        raise ProductInvalid(product.code, errors)  # rolls back the registrations


def publish_first_start(tx: Tx, products: Iterable[Product], now: datetime) -> bool:
    """On a database where nothing was ever published, publish the editions on disk that
    are already in force (a future-dated one waits for `products publish`).

    Returns whether it did. Concurrent starts (gunicorn workers) take turns on a lock, so
    only the first records anything.
    """
    tx.editions.lock_publications()
    # "first": no edition was ever registered (what a start registers, the next one sees)
    if tx.editions.any_registration():
        return False
    for product in products:
        register_editions(tx, product, now, {})  # nothing is published yet
        for edition in (e for e in product.editions if e.effective_from <= now):
            tx.editions.record_publication(
                product.code,
                _entry(edition, PublicationAction.PUBLISH, FIRST_START_ACTOR, now, None),
            )
    return True


def states_of(
    tx: Tx,
    product: Product,
    now: datetime,
    latest: dict[str, Publication] | None = None,
) -> list[EditionState]:
    if latest is None:
        latest = _latest(tx, product.code)
    refs = [f"{product.code}/{i}" for i in {e.id for e in product.editions} | set(latest)]
    used = {ref.split("/", 1)[1] for ref in tx.editions.used_editions(refs)}
    return edition_states(product.editions, latest, used, now)


def serving(tx: Tx, product: Product, now: datetime) -> Serving:
    """Register the product's editions and keep those on sale; ProductInvalid when the files
    break a rule (a used edition changed or removed)."""
    latest = _latest(tx, product.code)  # registering does not change it
    register_editions(tx, product, now, latest)
    states = states_of(tx, product, now, latest)
    problems = [s.problem for s in states if s.problem]
    if problems:
        raise ProductInvalid(
            product.code,
            [ProductFileError(f"{product.code}/editions", None, "", p) for p in problems],
        )
    warnings = [_not_on_sale(s) for s in states if s.status in _WARN]
    return Serving(_only_on_sale(product, states), warnings)


def _only_on_sale(product: Product, states: list[EditionState]) -> Product:
    ids = {s.edition_id for s in states if s.on_sale}
    return dataclasses.replace(product, editions=tuple(e for e in product.editions if e.id in ids))


def on_sale(tx: Tx, product: Product, now: datetime) -> Product:
    """The product with only its editions on sale (reads only; for a product refused after
    a publication changed, so that a withdrawn edition stops selling all the same)."""
    return _only_on_sale(product, states_of(tx, product, now))


def pinnable(tx: Tx, product: Product, triggers: TriggerTypes) -> Product:
    """Every edition a policy may be pinned to: the files on disk where they are the recorded
    ones, else (changed or removed after a sale) the edition rebuilt from its recorded files,
    so claims and refunds keep their rules whatever happens to the folder."""
    recorded = tx.editions.recorded_hashes(product.code)
    keep = {
        e.id: e for e in product.editions if recorded.get(e.id, e.content_hash) == e.content_hash
    }
    for edition_id, content_hash in recorded.items():
        if edition_id in keep or not tx.editions.is_used(f"{product.code}/{edition_id}"):
            continue
        files = tx.editions.recorded_files(product.code, edition_id)
        try:
            edition = load_recorded_edition(product.code, edition_id, files, triggers)
        except ProductInvalid as exc:
            log.error(
                "edition %s/%s cannot be rebuilt from its record: %s", product.code, edition_id, exc
            )
            continue
        if edition.content_hash == content_hash:
            keep[edition_id] = edition
    editions = tuple(sorted(keep.values(), key=lambda e: e.effective_from))
    return dataclasses.replace(product, editions=editions)


_WARN = (EditionStatus.UNPUBLISHED, EditionStatus.CHANGED, EditionStatus.MISSING)


def _not_on_sale(state: EditionState) -> str:
    if state.status is EditionStatus.UNPUBLISHED:
        return f"edition {state.edition_id} is not published: not on sale"
    pub = state.publication
    assert pub is not None
    if state.status is EditionStatus.MISSING:
        stranded = (
            "; its policies keep it, rebuilt from the files recorded in the database"
            if state.used
            else ""
        )
        return (
            f"edition {state.edition_id} was published but its folder is gone: not on sale"
            f"{stranded}"
        )
    return (
        f"edition {state.edition_id} changed after {pub.actor} published it at "
        f"{pub.recorded_at.isoformat()}: not on sale until it is published again (or its files "
        "restored); an earlier published edition sells in its place"
    )


def publish(
    uow: UnitOfWork,
    product: Product,
    edition_id: str,
    actor: str,
    note: str | None,
    now: datetime,
    on_disk: Iterable[Product] = (),
) -> Published:
    """Put an edition on sale from its effective_from (now, if that has passed).

    The whole product must load and its test cases pass; an edition that a later one already
    in force would hide is refused. On a database where nothing was published yet, the
    first start's publications of `on_disk` (every valid product) come first, so publishing
    before the service ever ran does not leave the other products off sale.
    """
    edition = _edition(product, edition_id)
    actor = check_actor(actor)
    failed = [r for r in run_product(product) if not r.passed]
    if failed:
        raise Conflict(
            f"{product.code}: {len(failed)} test case(s) fail, nothing published: "
            + "; ".join(f"{r.where} {r.case.name}: {r.problems[0]}" for r in failed[:5]),
            code="product_tests_fail",
        )
    with uow.write() as tx:
        publish_first_start(tx, on_disk, now)  # takes the publications lock
        latest = _latest(tx, product.code)
        try:
            register_editions(tx, product, now, latest)
        except ProductInvalid as exc:
            raise Conflict(
                "; ".join(e.message for e in exc.errors), code="edition_frozen"
            ) from None
        states = states_of(tx, product, now, latest)
        state = next(s for s in states if s.edition_id == edition_id)
        if state.problem:
            raise Conflict(state.problem, code="edition_frozen")
        if state.on_sale:
            assert state.publication is not None
            return _published(edition, state.publication, False, states, now)
        hidden = never_in_force(edition, states, now)
        if hidden:
            raise Conflict(hidden, code="edition_never_in_force")
        # unused (else register_editions refused it): the record takes the published content
        tx.editions.replace_unused(edition, now)
        entry = _entry(edition, PublicationAction.PUBLISH, actor, now, note)
        tx.editions.record_publication(product.code, entry)
    return _published(edition, entry, True, states, now)


#: processes notice a withdrawal within their reload interval: closer to its date than this,
#: an edition might already be sold somewhere
WITHDRAW_CLOSES = timedelta(minutes=5)


def withdraw(
    uow: UnitOfWork,
    product_code: str,
    edition_id: str,
    actor: str,
    note: str | None,
    now: datetime,
) -> Publication:
    """Take a published edition off sale before it comes into force.

    Works from the publication record alone, so it also works while the product's files
    are refused.
    """
    actor = check_actor(actor)
    with uow.write() as tx:
        tx.editions.lock_publications()
        pub = _latest(tx, product_code).get(edition_id)
        if pub is None:
            raise NotFound(f"{product_code} has no published edition {edition_id}")
        if pub.action is PublicationAction.WITHDRAW:
            raise Conflict(
                f"edition {edition_id} was already withdrawn by {pub.actor} at "
                f"{pub.recorded_at.isoformat()}",
                code="edition_withdrawn",
            )
        if pub.effective_from <= now + WITHDRAW_CLOSES:
            when = "has been" if pub.effective_from <= now else "comes"
            raise Conflict(
                f"edition {edition_id} {when} in force from {pub.effective_from.isoformat()} "
                f"(withdrawing closes {int(WITHDRAW_CLOSES.total_seconds() // 60)} minutes "
                "before); publish a corrected edition with a later effective_from instead",
                code="edition_in_force",
            )
        if tx.editions.is_used(f"{product_code}/{edition_id}"):
            raise Conflict(
                f"edition {edition_id} is already used by quotes or policies; publish a "
                "corrected edition with a later effective_from instead",
                code="edition_used",
            )
        entry = dataclasses.replace(
            pub, action=PublicationAction.WITHDRAW, actor=actor, recorded_at=now, note=note
        )
        tx.editions.record_publication(product_code, entry)
    return entry


def history(uow: UnitOfWork, product_code: str) -> list[Publication]:
    with uow.read() as tx:
        return tx.editions.publications(product_code)


def status(uow: UnitOfWork, product: Product, now: datetime) -> list[EditionState]:
    with uow.read() as tx:
        return states_of(tx, product, now)


def _edition(product: Product, edition_id: str) -> Edition:
    try:
        return product.named_edition(edition_id)
    except LookupError as exc:
        raise NotFound(str(exc)) from None


def check_actor(actor: str) -> str:
    actor = actor.strip()
    if not actor or len(actor) > 200:
        raise InvalidRequest("must be 1 to 200 characters: who publishes", param="by")
    return actor


def _entry(
    edition: Edition, action: PublicationAction, actor: str, now: datetime, note: str | None
) -> Publication:
    return Publication(
        edition=edition.id,
        action=action,
        content_hash=edition.content_hash,
        effective_from=edition.effective_from,
        actor=actor,
        recorded_at=now,
        note=note,
    )


def _published(
    edition: Edition, pub: Publication, recorded: bool, before: list[EditionState], now: datetime
) -> Published:
    """Whether it is in force now, and the edition it replaces or that sells until then."""
    sold = [s.edition for s in before if s.on_sale and s.edition and s.edition_id != edition.id]
    in_force = max(
        (e for e in sold if e.effective_from <= now), key=lambda e: e.effective_from, default=None
    )
    return Published(edition, pub, recorded, edition.effective_from <= now, in_force)
