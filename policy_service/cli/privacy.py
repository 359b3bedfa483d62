"""Privacy requests from the operator's side: export or erase a person across every
partner, and run the retention sweep now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from .common import command_services
from .main import main


@main.group()
def privacy() -> None:
    """Privacy requests (PIPL, GDPR): export, erase, retention."""


def _said(exc: Any) -> str:
    """A service error as the command says it: the field it names, then why."""
    return f"{exc.param}: {exc.message}" if exc.param else str(exc.message)


@privacy.command("export")
@click.option("--id-number", required=True, help="the person's ID number (hashed, never kept)")
@click.option("--id-type", default=None, help="cn_resident_id or passport (default: any)")
def privacy_export(id_number: str, id_type: str | None) -> None:
    """Print everything held about a person, across partners, as JSON."""
    from policy_service.domain.errors import ServiceError
    from policy_service.presentation.endorsements import privacy_export
    from policy_service.services import privacy as svc_privacy

    with command_services(load_products=True) as svc:
        now = datetime.now(UTC)
        try:
            held = svc_privacy.export(
                svc.uow, svc.config.pii_hash_key, id_number, id_type, None, now
            )
        except ServiceError as exc:
            raise click.ClickException(_said(exc)) from None
        document = privacy_export(held, svc.render_policy, now)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


@privacy.command("erase")
@click.option("--id-number", required=True, help="the person's ID number (hashed, never kept)")
@click.option("--id-type", default=None, help="cn_resident_id or passport (default: any)")
def privacy_erase(id_number: str, id_type: str | None) -> None:
    """Erase a person from every partner's policies (those in force, or with an open
    claim, are kept and listed)."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services import privacy as svc_privacy

    with command_services() as svc:
        try:
            done = svc_privacy.erase(
                svc.uow,
                svc.claims().files,
                svc.config.pii_hash_key,
                id_number,
                id_type,
                None,
                datetime.now(UTC),
            )
        except ServiceError as exc:
            raise click.ClickException(_said(exc)) from None
    click.echo(f"erased from {len(done.erased)} policies")
    for policy_id, why in done.kept.items():
        click.echo(f"kept {policy_id}: {why}")


@privacy.command("retention")
@click.option("--days", type=click.IntRange(min=1), required=True, help="after the cover ended")
def privacy_retention(days: int) -> None:
    """Erase now the people of every policy whose cover ended more than DAYS ago (the
    worker does this daily when PRIVACY_RETENTION_DAYS is set)."""
    from policy_service.services import privacy as svc_privacy

    total = 0
    with command_services() as svc:
        while found := svc_privacy.apply_retention(
            svc.uow, svc.claims().files, datetime.now(UTC), days
        ):
            total += found
    click.echo(f"erased the people of {total} policies")
