"""Which editions are on sale, from the files on disk and the publication record."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from policy_service.domain.publication import (
    EditionStatus,
    Publication,
    PublicationAction,
    edition_states,
    latest_publications,
    never_in_force,
)
from pricing.loader import load_product
from pricing.model import Edition
from tests.conftest import PRODUCTS

NOW = datetime(2026, 12, 10, tzinfo=UTC)
BASE = load_product(PRODUCTS / "return_shipping", PRODUCTS).edition("2026-11-25")
assert BASE is not None


def _edition(edition_id: str, days_from_now: int, content: str = "") -> Edition:
    return dataclasses.replace(
        BASE,
        id=edition_id,
        effective_from=NOW + timedelta(days=days_from_now),
        content_hash=f"sha256:{edition_id}{content}",
    )


def _pub(edition: Edition, action: str = "publish", content_hash: str | None = None) -> Publication:
    return Publication(
        edition=edition.id,
        action=PublicationAction(action),
        content_hash=content_hash or edition.content_hash,
        effective_from=edition.effective_from,
        actor="alice",
        recorded_at=NOW - timedelta(days=30),
    )


def _states(editions: list[Edition], pubs: list[Publication], used: set[str] = set()):  # type: ignore[no-untyped-def]  # noqa: B006
    return edition_states(editions, latest_publications(pubs), used, NOW)


def test_the_latest_published_edition_in_force_is_live() -> None:
    old, cur, nxt, draft = (
        _edition("a", -40),
        _edition("b", -5),
        _edition("c", 20),
        _edition("d", 30),
    )
    states = _states([draft, nxt, old, cur], [_pub(old), _pub(cur), _pub(nxt)])
    assert [(s.edition_id, s.status) for s in states] == [
        ("a", EditionStatus.SUPERSEDED),
        ("b", EditionStatus.LIVE),
        ("c", EditionStatus.SCHEDULED),
        ("d", EditionStatus.UNPUBLISHED),
    ]
    assert [s.on_sale for s in states] == [True, True, True, False]
    assert all(s.problem is None for s in states)


def test_an_unpublished_later_edition_does_not_take_over() -> None:
    cur, newer = _edition("b", -5), _edition("c", -1)
    states = _states([cur, newer], [_pub(cur)])
    assert [s.status for s in states] == [EditionStatus.LIVE, EditionStatus.UNPUBLISHED]


def test_the_latest_entry_decides_withdrawn_or_published_again() -> None:
    nxt = _edition("c", 20)
    assert _states([nxt], [_pub(nxt), _pub(nxt, "withdraw")])[0].status is EditionStatus.WITHDRAWN
    again = [_pub(nxt), _pub(nxt, "withdraw"), _pub(nxt)]
    assert _states([nxt], again)[0].status is EditionStatus.SCHEDULED


def test_changed_files_take_an_unused_edition_off_sale_and_refuse_a_used_one() -> None:
    cur = _edition("b", -5)
    published_as = _pub(cur, content_hash="sha256:before")
    (unused,) = _states([cur], [published_as])
    assert (unused.status, unused.on_sale, unused.problem) == (EditionStatus.CHANGED, False, None)
    (used,) = _states([cur], [published_as], {"b"})
    assert used.status is EditionStatus.CHANGED
    assert used.problem and "used by quotes or policies and may not change" in used.problem
    assert "sha256:before" in used.problem


def test_a_published_edition_whose_folder_is_gone() -> None:
    cur, nxt = _edition("b", -5), _edition("c", 20)
    states = _states([cur], [_pub(cur), _pub(nxt)])
    gone = states[1]
    assert (gone.edition_id, gone.status, gone.problem) == ("c", EditionStatus.MISSING, None)
    assert gone.effective_from == nxt.effective_from  # as published
    # not a refusal even when used: its policies are served from the record (services)
    (_, used_gone) = _states([cur], [_pub(cur), _pub(nxt)], {"c"})
    assert (used_gone.status, used_gone.used, used_gone.problem) == (
        EditionStatus.MISSING,
        True,
        None,
    )


def test_an_edition_hidden_by_a_later_one_in_force_would_never_sell() -> None:
    cur = _edition("b", -5)
    states = _states([cur], [_pub(cur)])
    reason = never_in_force(_edition("x", -10), states, NOW)
    assert reason and "edition b" in reason and "is later and already in force" in reason
    assert never_in_force(_edition("y", -1), states, NOW) is None  # replaces b now
    assert never_in_force(_edition("z", 3), states, NOW) is None  # scheduled
    nxt = _edition("c", 20)  # a later *scheduled* edition leaves a window before it
    states = _states([cur, nxt], [_pub(cur), _pub(nxt)])
    assert never_in_force(_edition("w", 3), states, NOW) is None
