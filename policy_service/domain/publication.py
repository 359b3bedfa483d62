"""Which editions are on sale: the rules that join the files on disk with the publications.

An edition is sold only while its latest publication is a `publish` whose content hash its
files still have. Once a quote or policy uses an edition, its files may not change; an
edition nobody bought yet may be corrected, and then waits to be published again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pricing.model import Edition


class PublicationAction(StrEnum):
    PUBLISH = "publish"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class Publication:
    edition: str
    action: PublicationAction
    content_hash: str
    effective_from: datetime
    actor: str
    recorded_at: datetime
    note: str | None = None


@dataclass(frozen=True)
class TriggerPublication:
    """A trigger type put in force: the text of its file as published."""

    name: str
    content_hash: str
    text: str
    actor: str
    recorded_at: datetime
    note: str | None = None


class EditionStatus(StrEnum):
    LIVE = "live"  # in force now: new business is priced on it
    SCHEDULED = "scheduled"  # published, in force from its effective_from
    SUPERSEDED = "superseded"  # published, a later published edition is in force
    UNPUBLISHED = "unpublished"  # a file nobody published (yet)
    WITHDRAWN = "withdrawn"  # published, then withdrawn before it came into force
    CHANGED = "changed"  # its files changed after it was published: publish it again
    MISSING = "missing"  # published, but its folder is gone


@dataclass(frozen=True)
class EditionState:
    edition_id: str
    status: EditionStatus
    edition: Edition | None
    publication: Publication | None
    #: why the product cannot be served as it is on disk (None: it can)
    problem: str | None = None
    #: a quote or policy uses it
    used: bool = False

    @property
    def effective_from(self) -> datetime:
        """From the files on disk, else (folder gone) as published."""
        if self.edition is not None:
            return self.edition.effective_from
        assert self.publication is not None
        return self.publication.effective_from

    @property
    def content_hash(self) -> str:
        if self.edition is not None:
            return self.edition.content_hash
        assert self.publication is not None
        return self.publication.content_hash

    @property
    def on_sale(self) -> bool:
        return self.status in (
            EditionStatus.LIVE,
            EditionStatus.SCHEDULED,
            EditionStatus.SUPERSEDED,
        )


def latest_publications(history: Iterable[Publication]) -> dict[str, Publication]:
    """The last entry per edition (history in the order it was recorded)."""
    latest: dict[str, Publication] = {}
    for entry in history:
        latest[entry.edition] = entry
    return latest


def edition_states(
    editions: Iterable[Edition],
    latest: Mapping[str, Publication],
    used: set[str],
    now: datetime,
) -> list[EditionState]:
    """The state of every edition on disk or ever published, by effective date."""
    on_disk = {e.id: e for e in editions}
    states: list[EditionState] = []
    for edition_id in sorted(
        set(on_disk) | set(latest),
        key=lambda i: (on_disk[i].effective_from if i in on_disk else latest[i].effective_from, i),
    ):
        states.append(_state(edition_id, on_disk.get(edition_id), latest.get(edition_id), used))
    return _mark_live(states, now)


def _state(
    edition_id: str,
    edition: Edition | None,
    pub: Publication | None,
    used: set[str],
) -> EditionState:
    in_use = edition_id in used
    if pub is None:
        return EditionState(edition_id, EditionStatus.UNPUBLISHED, edition, None, None, in_use)
    if pub.action is PublicationAction.WITHDRAW:
        return EditionState(edition_id, EditionStatus.WITHDRAWN, edition, pub, None, in_use)
    if edition is None:
        # Not a refusal: refusing the product would not bring the files back, it would only
        # stop sales of the editions that are fine. The catalog logs it as an error.
        return EditionState(edition_id, EditionStatus.MISSING, None, pub, None, in_use)
    if edition.content_hash == pub.content_hash:
        return EditionState(edition_id, EditionStatus.SCHEDULED, edition, pub, None, in_use)
    problem = None
    if in_use:
        # Only a sale freezes an edition: a correction to one nobody bought yet takes it
        # off sale until it is published again, and never takes the whole product down.
        problem = (
            f"edition {edition_id} (published by {pub.actor} at {pub.recorded_at.isoformat()}) "
            f"is used by quotes or policies and may not change: its files now hash to "
            f"{edition.content_hash}, published {pub.content_hash}; restore the files and "
            "publish a new edition with a later effective_from instead"
        )
    return EditionState(edition_id, EditionStatus.CHANGED, edition, pub, problem, in_use)


def _mark_live(states: list[EditionState], now: datetime) -> list[EditionState]:
    """Among published editions in force by date, the latest is live, earlier ones superseded."""
    in_force = [
        i
        for i, s in enumerate(states)
        if s.status is EditionStatus.SCHEDULED
        and s.edition is not None
        and s.edition.effective_from <= now
    ]
    for n, i in enumerate(in_force):
        status = EditionStatus.LIVE if n == len(in_force) - 1 else EditionStatus.SUPERSEDED
        states[i] = dataclasses.replace(states[i], status=status)
    return states


def never_in_force(edition: Edition, states: list[EditionState], now: datetime) -> str | None:
    """Why publishing `edition` would not sell it at any time from now (None: it would).

    A later-dated edition already in force hides it for good: the catalog sells the latest
    effective_from that has passed.
    """
    for s in states:
        if (
            s.on_sale
            and s.edition is not None
            and s.edition_id != edition.id
            and edition.effective_from < s.edition.effective_from <= now
        ):
            return (
                f"edition {edition.id} (from {edition.effective_from.isoformat()}) would never be "
                f"in force: edition {s.edition_id} (from {s.edition.effective_from.isoformat()}) "
                "is later and already in force; give it a later effective_from"
            )
    return None
