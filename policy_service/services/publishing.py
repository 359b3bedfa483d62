"""Putting editions on sale: publish, withdraw, the state of a product's editions, and the
editions a running catalog may sell.

A file dropped into products/ is validated and registered, but nothing is sold on it until
someone publishes it; each publish and withdraw is recorded (who, when, which hash). The
first start on an empty database publishes the editions on disk already in force, so a
fresh install sells its shipped products.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from policy_service.adapters import editions_repo
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
from pricing.model import Edition, Product
from pricing.testcases import run_product

FIRST_START_ACTOR = "policy-service (first start)"


@dataclass(frozen=True)
class Serving:
    """What a catalog sells of a product: only its editions on sale, plus why others are not."""

    product: Product
    states: list[EditionState]
    warnings: list[str]


@dataclass(frozen=True)
class Published:
    edition: Edition
    publication: Publication
    #: False when this exact content was already published (nothing recorded)
    recorded: bool
    #: the edition that sells until this one is in force (None: this one is in force now)
    until_then: Edition | None
    replaces: Edition | None


def register_editions(conn: sa.Connection, product: Product, now: datetime) -> None:
    """Record every edition in the database; refuse a used edition whose files changed."""
    errors: list[ProductFileError] = []
    for edition in product.editions:
        stored_hash = editions_repo.register(conn, edition, now)
        if stored_hash is None:
            continue
        if editions_repo.is_used(conn, edition.ref):
            errors.append(
                ProductFileError(
                    f"{product.code}/editions/{edition.id}",
                    None,
                    "",
                    f"edition {edition.id} is already used by quotes or policies and may not "
                    f"change (published {stored_hash}, files now {edition.content_hash}); "
                    "publish a new edition with a later effective_from instead",
                )
            )
        else:
            editions_repo.replace_unused(conn, edition, now)
    if errors:
        raise ProductInvalid(product.code, errors)  # rolls back the registrations


def publish_first_start(conn: sa.Connection, products: Iterable[Product], now: datetime) -> bool:
    """On a database where nothing was ever published, publish the editions on disk that
    are already in force (a future-dated one waits for `products publish`).

    Returns whether it did. Concurrent starts (gunicorn workers) take turns on a lock, so
    only the first records anything.
    """
    editions_repo.lock_publications(conn)
    if editions_repo.any_publication(conn):
        return False
    for product in products:
        register_editions(conn, product, now)
        for edition in (e for e in product.editions if e.effective_from <= now):
            editions_repo.record_publication(
                conn,
                product.code,
                _entry(edition, PublicationAction.PUBLISH, FIRST_START_ACTOR, now, None),
            )
    return True


def states_of(conn: sa.Connection, product: Product, now: datetime) -> list[EditionState]:
    latest = latest_publications(editions_repo.publications(conn, product.code))
    refs = [f"{product.code}/{i}" for i in {e.id for e in product.editions} | set(latest)]
    used = {ref.split("/", 1)[1] for ref in editions_repo.used_editions(conn, refs)}
    return edition_states(product.editions, latest, used, now)


def serving(conn: sa.Connection, product: Product, now: datetime) -> Serving:
    """Register the product's editions and keep those on sale; ProductInvalid when the files
    break a rule (a used edition changed or removed)."""
    register_editions(conn, product, now)
    states = states_of(conn, product, now)
    problems = [s.problem for s in states if s.problem]
    if problems:
        raise ProductInvalid(
            product.code,
            [ProductFileError(f"{product.code}/editions", None, "", p) for p in problems],
        )
    on_sale = {s.edition_id for s in states if s.on_sale}
    warnings = [_not_on_sale(s) for s in states if s.status in _WARN]
    return Serving(
        dataclasses.replace(
            product, editions=tuple(e for e in product.editions if e.id in on_sale)
        ),
        states,
        warnings,
    )


_WARN = (EditionStatus.UNPUBLISHED, EditionStatus.CHANGED, EditionStatus.MISSING)


def _not_on_sale(state: EditionState) -> str:
    if state.status is EditionStatus.UNPUBLISHED:
        return f"edition {state.edition_id} is not published: not on sale"
    assert state.publication is not None
    if state.status is EditionStatus.MISSING:
        return f"edition {state.edition_id} was published but its folder is gone: not on sale"
    return (
        f"edition {state.edition_id} changed after {state.publication.actor} published it at "
        f"{state.publication.recorded_at.isoformat()}: not on sale until it is published again"
    )


def publish(
    engine: sa.Engine,
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
    actor = _actor(actor)
    failed = [r for r in run_product(product) if not r.passed]
    if failed:
        raise Conflict(
            f"{product.code}: {len(failed)} test case(s) fail, nothing published: "
            + "; ".join(f"{r.where} {r.case.name}: {r.problems[0]}" for r in failed[:5]),
            code="product_tests_fail",
        )
    with engine.begin() as conn:
        publish_first_start(conn, on_disk, now)  # takes the publications lock
        register_editions(conn, product, now)
        states = states_of(conn, product, now)
        state = next(s for s in states if s.edition_id == edition_id)
        if state.problem:
            raise Conflict(state.problem, code="edition_frozen")
        if state.on_sale:
            assert state.publication is not None
            return _published(edition, state.publication, False, states, now)
        hidden = never_in_force(edition, states, now)
        if hidden:
            raise Conflict(hidden, code="edition_never_in_force")
        entry = _entry(edition, PublicationAction.PUBLISH, actor, now, note)
        editions_repo.record_publication(conn, product.code, entry)
    return _published(edition, entry, True, states, now)


def withdraw(
    engine: sa.Engine,
    product: Product,
    edition_id: str,
    actor: str,
    note: str | None,
    now: datetime,
) -> Publication:
    """Take a scheduled edition off sale before it comes into force."""
    actor = _actor(actor)
    with engine.begin() as conn:
        editions_repo.lock_publications(conn)
        states = states_of(conn, product, now)
        state = next((s for s in states if s.edition_id == edition_id), None)
        if state is None or state.publication is None:
            raise NotFound(f"{product.code} has no published edition {edition_id}")
        pub = state.publication
        if state.status is EditionStatus.WITHDRAWN:
            raise Conflict(
                f"edition {edition_id} was already withdrawn by {pub.actor} at "
                f"{pub.recorded_at.isoformat()}",
                code="edition_withdrawn",
            )
        if pub.effective_from <= now:
            raise Conflict(
                f"edition {edition_id} has been in force since {pub.effective_from.isoformat()}; "
                "publish a corrected edition with a later effective_from instead",
                code="edition_in_force",
            )
        if editions_repo.is_used(conn, f"{product.code}/{edition_id}"):
            raise Conflict(f"edition {edition_id} is used by quotes", code="edition_used")
        entry = dataclasses.replace(
            pub,
            action=PublicationAction.WITHDRAW,
            actor=actor,
            recorded_at=now,
            note=note,
        )
        editions_repo.record_publication(conn, product.code, entry)
    return entry


def history(engine: sa.Engine, product_code: str) -> list[Publication]:
    with engine.connect() as conn:
        return editions_repo.publications(conn, product_code)


def status(engine: sa.Engine, product: Product, now: datetime) -> list[EditionState]:
    with engine.connect() as conn:
        return states_of(conn, product, now)


def _edition(product: Product, edition_id: str) -> Edition:
    edition = product.edition(edition_id)
    if edition is None:
        known = ", ".join(e.id for e in product.editions)
        raise NotFound(f"{product.code} has no edition {edition_id} (editions: {known})")
    return edition


def _actor(actor: str) -> str:
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
    """Which edition sells until this one is in force, and which one it replaces."""
    sold = [s.edition for s in before if s.on_sale and s.edition and s.edition_id != edition.id]
    in_force_now = max(
        (e for e in sold if e.effective_from <= now), key=lambda e: e.effective_from, default=None
    )
    if edition.effective_from <= now:
        return Published(edition, pub, recorded, None, in_force_now)
    return Published(edition, pub, recorded, in_force_now, None)
