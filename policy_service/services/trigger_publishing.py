"""Putting trigger types in force, as editions are put on sale: a trigger file is read
when it appears, but reports are validated and claim rules checked against the type as
it was published (its text is recorded: who, when, which hash). Publishing is refused
when the new type would break the claim rules in force. The first start on a database
where no trigger type was ever published publishes the files on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from policy_service.domain.errors import Conflict, NotFound
from policy_service.domain.publication import TriggerPublication
from pricing.loader import TriggerTypes
from pricing.loading.compat import broken_by
from pricing.loading.triggers import trigger_types_from

from .publishing import FIRST_START_ACTOR, check_actor
from .unit_of_work import Tx, UnitOfWork


@dataclass(frozen=True)
class TriggersInForce:
    """The trigger types as published, and what differs on disk (not in force)."""

    types: TriggerTypes
    warnings: list[str]


def publish_first_start(tx: Tx, on_disk: TriggerTypes, now: datetime) -> bool:
    """Publish every valid trigger file when no trigger type was ever published."""
    tx.editions.lock_publications()
    if tx.trigger_types.mark() != 0:
        return False
    for name in sorted(on_disk.types):
        tx.trigger_types.record(_entry(on_disk, name, FIRST_START_ACTOR, now, None))
    return bool(on_disk.types)


def in_force(tx: Tx, on_disk: TriggerTypes) -> TriggersInForce:
    records = tx.trigger_types.in_force()
    types = trigger_types_from({name: p.text for name, p in records.items()})
    warnings = []
    for name, content_hash in sorted(on_disk.hashes.items()):
        record = records.get(name)
        if record is None:
            warnings.append(
                f"trigger type {name} is not published: `policy-service products "
                f"publish-trigger {name}` puts it in force"
            )
        elif record.content_hash != content_hash:
            warnings.append(
                f"triggers/{name}.yaml changed after {record.actor} published it at "
                f"{record.recorded_at.isoformat()}: the published type stays in force until "
                "the file is published again (or restored)"
            )
    for name, errors in sorted(on_disk.refused.items()):
        warnings.append(f"triggers/{name}.yaml is refused: {errors[0]}")
    return TriggersInForce(types, warnings)


@dataclass(frozen=True)
class TriggerPublished:
    publication: TriggerPublication
    #: False when this exact text was already in force (nothing recorded)
    recorded: bool


def publish(
    uow: UnitOfWork,
    root: Path,
    on_disk: TriggerTypes,
    name: str,
    uses: Mapping[str, list[str]],
    actor: str,
    note: str | None,
    now: datetime,
) -> TriggerPublished:
    """Put the trigger file `name` in force, unless it would break a claim rule in force
    (`uses`: trigger type -> the editions whose rules name it) or a product under `root`."""
    actor = check_actor(actor)
    if name in on_disk.refused:
        first = on_disk.refused[name][0]
        raise Conflict(f"triggers/{name}.yaml is refused: {first}", code="trigger_type_invalid")
    if name not in on_disk.types:
        raise NotFound(f"no trigger file triggers/{name}.yaml", code="resource_missing")
    with uow.write() as tx:
        publish_first_start(tx, on_disk, now)  # takes the publications lock
        records = tx.trigger_types.in_force()
        current = records.get(name)
        if current is not None and current.content_hash == on_disk.hashes[name]:
            return TriggerPublished(current, False)
        published = trigger_types_from({n: p.text for n, p in records.items()})
        candidate = trigger_types_from(
            {**{n: p.text for n, p in records.items()}, name: on_disk.texts[name]}
        )
        problems = broken_by(root, published, candidate, uses)
        if problems:
            raise Conflict(
                f"trigger type {name} not published: " + "; ".join(problems),
                code="trigger_type_breaks_rules",
            )
        entry = _entry(on_disk, name, actor, now, note)
        tx.trigger_types.record(entry)
    return TriggerPublished(entry, True)


def status(
    uow: UnitOfWork, on_disk: TriggerTypes
) -> tuple[dict[str, TriggerPublication], list[str]]:
    """The publications in force, and the trigger files that are not in force, with why."""
    with uow.read() as tx:
        return tx.trigger_types.in_force(), in_force(tx, on_disk).warnings


def _entry(
    on_disk: TriggerTypes, name: str, actor: str, now: datetime, note: str | None
) -> TriggerPublication:
    return TriggerPublication(name, on_disk.hashes[name], on_disk.texts[name], actor, now, note)
