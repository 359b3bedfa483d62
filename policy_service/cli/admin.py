"""Administration: partners and their keys, data providers, ops staff."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from .common import (
    command_services,
)
from .main import main

# -- partners --------------------------------------------------------------------------


@main.group()
def partners() -> None:
    """Partners and their API keys."""


@partners.command("create")
@click.argument("name")
@click.option("--live", is_flag=True, help="make a live key (sk_live_...) instead of a test key")
@click.option(
    "--billing",
    type=click.Choice(["partner_settled", "stripe"]),
    default="partner_settled",
    show_default=True,
)
@click.option(
    "--rate-limit",
    default=None,
    help="requests per key, e.g. 500/second (default: the service's RATE_LIMIT_DEFAULT)",
)
def partners_create(name: str, live: bool, billing: str, rate_limit: str | None) -> None:
    """Create a partner and print its API key (shown this once only)."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services.partners import create_partner, set_rate_limit

    try:
        with command_services() as svc:
            partner, secret = create_partner(svc.uow, name, billing, live, datetime.now(UTC))
            if rate_limit is not None:
                set_rate_limit(svc.uow, partner.id, rate_limit)
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"partner {partner.id} ({partner.name}), billing {partner.billing_mode}")
    click.echo(f"api key ({'live' if live else 'test'} mode; store it now, it is not shown again):")
    click.echo(secret)


@partners.command("key")
@click.argument("partner_id")
@click.option("--live", is_flag=True)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="limit the key to these scopes (repeat); default: full access",
)
def partners_key(partner_id: str, live: bool, scopes: tuple[str, ...]) -> None:
    """Create another API key for a partner (test by default)."""
    from policy_service.domain.errors import ServiceError
    from policy_service.domain.records import FULL_ACCESS
    from policy_service.services.partners import create_api_key

    try:
        with command_services() as svc:
            secret = create_api_key(
                svc.uow, partner_id, live, scopes or (FULL_ACCESS,), datetime.now(UTC)
            )
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(secret)


@partners.command("keys")
@click.argument("partner_id")
@click.option("--live", is_flag=True, help="the live keys (default: the test keys)")
def partners_keys(partner_id: str, live: bool) -> None:
    """A partner's keys: id, hint, scopes, status (never the secrets)."""
    from policy_service.services import api_keys

    now = datetime.now(UTC)
    with command_services() as svc:
        keys = api_keys.list_keys(svc.uow, partner_id, live)
    for key in keys:
        until = f" until {key.revoked_at.isoformat()}" if key.revoked_at else ""
        click.echo(f"{key.id}  {key.hint}  {key.status(now)}{until}  {' '.join(key.scopes)}")


@partners.command("revoke")
@click.argument("partner_id")
@click.argument("key_id")
def partners_revoke(partner_id: str, key_id: str) -> None:
    """Revoke a key now: every process refuses it within API_KEY_CACHE_SECONDS."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services import api_keys

    try:
        with command_services() as svc:
            key = api_keys.revoke_key(svc.uow, partner_id, key_id, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(
        f"{key.id} ({key.hint}) revoked at {key.revoked_at.isoformat() if key.revoked_at else '?'}"
    )


@partners.command("rotate")
@click.argument("partner_id")
@click.argument("key_id")
@click.option("--overlap-hours", type=int, default=24, show_default=True)
def partners_rotate(partner_id: str, key_id: str, overlap_hours: int) -> None:
    """A new key with the same scopes; the old one keeps working --overlap-hours."""
    from datetime import timedelta

    from policy_service.domain.errors import ServiceError
    from policy_service.services import api_keys

    try:
        with command_services() as svc:
            key, secret = api_keys.rotate(
                svc.uow, partner_id, key_id, timedelta(hours=overlap_hours), datetime.now(UTC)
            )
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"new key {key.id} (store it now, it is not shown again):")
    click.echo(secret)
    click.echo(f"{key_id} keeps working for {overlap_hours} h")


@partners.command("update")
@click.argument("owner_id")
@click.option(
    "--rate-limit",
    required=True,
    help="requests per key, e.g. 500/second; `default` for the service's RATE_LIMIT_DEFAULT",
)
def partners_update(owner_id: str, rate_limit: str) -> None:
    """Change a partner's (ptn_...) or data provider's (prv_...) rate limit. Running
    processes apply it within API_KEY_CACHE_SECONDS."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services.partners import set_rate_limit

    limit = None if rate_limit == "default" else rate_limit
    try:
        with command_services() as svc:
            set_rate_limit(svc.uow, owner_id, limit)
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"{owner_id}: rate limit {limit or 'the default (RATE_LIMIT_DEFAULT)'}")


# -- data providers and staff ----------------------------------------------------------


@main.group()
def providers() -> None:
    """Data providers: flight-status feeds, logistics companies (they post trigger events)."""


@providers.command("create")
@click.argument("name")
@click.option("--live", is_flag=True, help="make a live key (dk_live_...) instead of a test key")
def providers_create(name: str, live: bool) -> None:
    """Create a data provider and print its key: it may post trigger events and nothing else."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services.partners import create_provider

    try:
        with command_services() as svc:
            provider_id, secret = create_provider(svc.uow, name, live, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"provider {provider_id} ({name.strip()})")
    click.echo(f"key ({'live' if live else 'test'} mode; store it now, it is not shown again):")
    click.echo(secret)


@main.group()
def staff() -> None:
    """Ops staff accounts (console logins and ops API tokens)."""


@staff.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["reviewer", "approver", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (scripts)")
@click.option("--no-password", is_flag=True, help="API token only, no console login")
def staff_create(email: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Create a staff account; the password is prompted for (or read from stdin)."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services.staff import create_staff

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with command_services() as svc:
            member = create_staff(svc.uow, email, role, password, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"staff {member.id} {member.email} ({member.role})")


@staff.command("password")
@click.argument("EMAIL")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (scripts)")
def staff_password(email: str, password_stdin: bool) -> None:
    """Set a new console password; it ends the account's sessions and lifts a login lock."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services.staff import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with command_services() as svc:
            set_password(svc.uow, email, password)
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"password set for {email.strip().lower()}")


@staff.command("token")
@click.argument("email")
def staff_token(email: str) -> None:
    """Print a new ops API token (ops_...) for a staff member (shown this once only)."""
    from policy_service.domain.errors import ServiceError
    from policy_service.services.staff import create_token

    try:
        with command_services() as svc:
            secret = create_token(svc.uow, email, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(secret)
