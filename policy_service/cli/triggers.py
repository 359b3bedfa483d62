"""Trigger types, put in force like editions: publish-trigger, and their status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from .common import actor_default, catalog_at, command_services
from .products import products


@products.command("publish-trigger")
@click.argument("name")
@click.option("--by", "actor", default=None, help="who publishes (default: your login name)")
@click.option("--note", default=None, help="why, for the record")
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_publish_trigger(
    name: str, actor: str | None, note: str | None, path: Path | None
) -> None:
    """Put the trigger type in triggers/NAME.yaml in force, recording who, when and its text.

    Refused when it would break a claim rule of a product on disk (a field they read
    removed or retyped, an enumeration value they compare with gone). Running services
    pick it up within PRODUCTS_RELOAD_SECONDS, without a restart.
    """
    from policy_service.domain.errors import ServiceError
    from policy_service.services import trigger_publishing
    from pricing.loading.compat import trigger_uses

    catalog = catalog_at(path)
    now = datetime.now(UTC)
    try:
        with command_services() as svc:
            done = trigger_publishing.publish(
                svc.uow,
                svc.config.products_dir if path is None else path.resolve(),
                catalog.triggers,
                name,
                trigger_uses(catalog.products.values()),
                actor or actor_default(),
                note,
                now,
            )
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    pub = done.publication
    if not done.recorded:
        click.echo(
            f"trigger type {name} is already in force ({pub.content_hash[:19]}), published by "
            f"{pub.actor} at {pub.recorded_at.isoformat()}; nothing recorded"
        )
        return
    click.echo(
        f"published trigger type {name} ({pub.content_hash[:19]}) by {pub.actor} at "
        f"{now.isoformat()}; running services take it within their reload interval"
    )


@products.command("triggers")
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_triggers(path: Path | None) -> None:
    """The trigger types in force (as published) and the trigger files that are not."""
    from policy_service.services import trigger_publishing

    catalog = catalog_at(path)
    with command_services() as svc:
        records, warnings = trigger_publishing.status(svc.uow, catalog.triggers)
    for name, record in sorted(records.items()):
        click.echo(
            f"in force  {name} ({record.content_hash[:19]}) published by {record.actor} at "
            f"{record.recorded_at.isoformat()}"
        )
    for warning in warnings:
        click.echo(f"not in force: {warning}")
