"""The actuaries' tools on product files: validate, test, explain, diff, publish, withdraw,
status, replay."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from policy_service.config import load_config

from .common import (
    actor_default,
    catalog_at,
    command_services,
    date_from,
    edition_of,
    product_at,
    time_from,
)
from .main import main

# -- products --------------------------------------------------------------------------


@main.group()
def products() -> None:
    """Actuaries' tools for product files."""


@products.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def products_validate(path: Path | None) -> None:
    """Load and check every product under PATH (default PRODUCTS_DIR or ./products), and
    the trigger types beside them (PATH/triggers/*.yaml)."""
    from pricing.loader import load_catalog

    root = (path or load_config().products_dir).resolve()
    if (root / "product.yaml").exists():  # a single product folder
        root = root.parent
    catalog = load_catalog(root)
    triggers = catalog.triggers
    for name, trigger in sorted(triggers.types.items()):
        click.echo(f"ok      trigger {name}: {', '.join(trigger.fields.by_name)}")
    for name, errors in sorted(triggers.refused.items()):
        click.echo(f"REFUSED trigger {name}:")
        for error in errors:
            click.echo(f"  {error}")
    for code, product in catalog.products.items():
        eds = ", ".join(
            f"{e.id} (from {e.effective_from.isoformat()}, {e.content_hash[:19]})"
            for e in product.editions
        )
        click.echo(f"ok      {code}: {eds}")
        for warning in product.warnings:  # what loads but is probably not meant
            click.echo(f"warning  {warning}")
    for code, refused in catalog.refused.items():
        click.echo(f"REFUSED {code}:")
        for err in refused.errors:
            click.echo(f"  {err}")
    if not catalog.products and not catalog.refused:
        raise click.ClickException(f"no product folders under {root}")
    if catalog.refused or triggers.refused:
        sys.exit(1)


@products.command("test")
@click.argument("product", required=False)
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_test(product: str | None, path: Path | None) -> None:
    """Run the products' test cases (tests.yaml) and print each result."""
    from pricing.loader import load_catalog
    from pricing.testcases import run_product

    root = (path or load_config().products_dir).resolve()
    catalog = load_catalog(root)
    failed = 0
    codes = [product] if product else sorted(catalog.products) + sorted(catalog.refused)
    for code in codes:
        if code in catalog.refused:
            click.echo(f"REFUSED {code}: fix `policy-service products validate` first")
            failed += 1
            continue
        if code not in catalog.products:
            raise click.ClickException(f"no product {code!r} under {root}")
        for result in run_product(catalog.products[code]):
            mark = "pass" if result.passed else "FAIL"
            click.echo(f"{mark} {result.where} {result.case.name}")
            for problem in result.problems:
                click.echo(f"       {problem}")
            failed += not result.passed
    click.echo(f"{'all passed' if not failed else f'{failed} failed'}")
    if failed:
        sys.exit(1)


@products.command("explain")
@click.argument("product")
@click.option("--risk", "risk_file", type=click.File("r"), required=True, help="a JSON risk")
@click.option("--edition", default=None, help="default: the edition in force --at")
@click.option("--at", "at_text", default=None, help="pricing time, ISO 8601 (default now)")
@click.option("--json", "as_json", is_flag=True, help="the worksheet as JSON")
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_explain(
    product: str,
    risk_file: Any,
    edition: str | None,
    at_text: str | None,
    as_json: bool,
    path: Path | None,
) -> None:
    """The rating worksheet of one risk: every step, factor and the table row it came from."""
    from pricing.errors import InputErrors, PricingError
    from pricing.explain import as_text, choose_edition, worksheet

    at = time_from(at_text)
    try:
        risk = json.load(risk_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{risk_file.name}:{exc.lineno}: not JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{risk_file.name}: not UTF-8 text") from None
    prod = product_at(product, path)
    try:
        chosen = choose_edition(prod, edition, at)
        sheet = worksheet(chosen, risk, at)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except InputErrors as exc:
        raise click.ClickException(
            f"{risk_file.name}: invalid risk:\n  " + "\n  ".join(str(e) for e in exc.errors)
        ) from None
    except PricingError as exc:
        raise click.ClickException(f"{chosen.ref} could not price this risk: {exc}") from None
    click.echo(json.dumps(sheet, indent=2, ensure_ascii=False) if as_json else as_text(sheet))


@products.command("diff")
@click.argument("product")
@click.argument("edition_a")
@click.argument("edition_b")
@click.option("--json", "as_json", is_flag=True)
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_diff(
    product: str, edition_a: str, edition_b: str, as_json: bool, path: Path | None
) -> None:
    """What changes from EDITION_A to EDITION_B: table cells, factors, limits, rules."""
    from pricing.diff import diff_editions

    prod = product_at(product, path)
    changes = diff_editions(edition_of(prod, edition_a), edition_of(prod, edition_b))
    if as_json:
        click.echo(json.dumps([c.to_json() for c in changes], indent=2, ensure_ascii=False))
        return
    click.echo(f"{product}: {edition_a} -> {edition_b}: {len(changes)} change(s)")
    for change in changes:
        click.echo(f"  {change}")


@products.command("publish")
@click.argument("product")
@click.argument("edition")
@click.option("--by", "actor", default=None, help="who publishes (default: your login name)")
@click.option("--note", default=None, help="why, for the record")
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_publish(
    product: str, edition: str, actor: str | None, note: str | None, path: Path | None
) -> None:
    """Put EDITION on sale from its effective_from, recording who, when and its hash.

    The product must validate and pass its test cases. Running services and workers pick
    it up within PRODUCTS_RELOAD_SECONDS, without a restart.
    """
    from policy_service.domain.errors import ServiceError
    from policy_service.services import publishing

    catalog = catalog_at(path)
    prod = product_at(product, path, catalog)
    on_disk = catalog.products.values()
    now = datetime.now(UTC)
    try:
        with command_services() as svc:
            done = publishing.publish(
                svc.uow, prod, edition, actor or actor_default(), note, now, on_disk
            )
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    pub = done.publication
    if not done.recorded:
        click.echo(
            f"{product}/{edition} is already published ({pub.content_hash}) by {pub.actor} "
            f"at {pub.recorded_at.isoformat()}; nothing recorded"
        )
        return
    click.echo(
        f"published {product}/{edition} ({pub.content_hash}) by {pub.actor} at {now.isoformat()}"
    )
    other = done.other
    if done.in_force_now:
        replaced = f", replacing {other.id}" if other else ""
        click.echo(f"in force now{replaced}; running services switch within their reload interval")
    else:
        then = f"; {other.id} sells until then" if other else "; nothing sells until then"
        click.echo(f"scheduled: in force from {done.edition.effective_from.isoformat()}{then}")


@products.command("withdraw")
@click.argument("product")
@click.argument("edition")
@click.option("--by", "actor", default=None, help="who withdraws (default: your login name)")
@click.option("--note", default=None, help="why, for the record")
def products_withdraw(product: str, edition: str, actor: str | None, note: str | None) -> None:
    """Take a published EDITION off sale before its effective_from (it must be unused).

    Reads the database only: it works even while the product's files are refused.
    """
    from policy_service.domain.errors import ServiceError
    from policy_service.services import publishing

    try:
        with command_services() as svc:
            entry = publishing.withdraw(
                svc.uow, product, edition, actor or actor_default(), note, datetime.now(UTC)
            )
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"withdrew {product}/{edition} by {entry.actor} at {entry.recorded_at.isoformat()}")


@products.command("status")
@click.argument("product")
@click.option("--history", is_flag=True, help="also every publish and withdraw, oldest first")
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_status(product: str, history: bool, path: Path | None) -> None:
    """Every edition of PRODUCT: live, scheduled, superseded, unpublished, changed or withdrawn."""
    from policy_service.services import publishing

    catalog = catalog_at(path)
    with command_services() as svc:
        if product in catalog.refused:  # the record still tells what was published
            click.echo(f"{product}: its files are refused, so nothing new is sold:")
            for err in catalog.refused[product].errors:
                click.echo(f"  {err}")
            _print_history(publishing.history(svc.uow, product))
            sys.exit(1)
        prod = product_at(product, path, catalog)  # unknown: a clear error
        states = publishing.status(svc.uow, prod, datetime.now(UTC))
        entries = publishing.history(svc.uow, product) if history else []
    click.echo(f"{'edition':<16} {'status':<12} {'effective from':<26} {'hash':<20} published")
    for s in states:
        pub = s.publication
        by = f"{pub.action.value} by {pub.actor} at {pub.recorded_at.isoformat()}" if pub else "-"
        click.echo(
            f"{s.edition_id:<16} {s.status.value:<12} {s.effective_from.isoformat():<26} "
            f"{s.content_hash[:19]:<20} {by}"
        )
        if s.problem:
            click.echo(f"  ! {s.problem}")
    _print_history(entries)
    if any(s.problem for s in states):
        sys.exit(1)  # the service refuses the product as its files are


def _print_history(entries: list[Any]) -> None:
    for e in entries:
        note = f" ({e.note})" if e.note else ""
        click.echo(
            f"{e.recorded_at.isoformat()} {e.action.value:<8} {e.edition} {e.content_hash[:19]} "
            f"by {e.actor}{note}"
        )


@products.command("replay")
@click.argument("product")
@click.option("--since", default=None, help="only policies issued from this date (YYYY-MM-DD, UTC)")
@click.option(
    "--book",
    type=click.Path(path_type=Path),
    default=None,
    help="a folder from `policy-service export` (default: the database)",
)
@click.option(
    "--dask", default=None, help="the book's product-months on Dask: local or tcp://HOST:PORT"
)
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_replay(
    product: str, since: str | None, book: Path | None, dask: str | None, path: Path | None
) -> None:
    """Price stored policies again on their pinned edition; list any that differ by a cent."""
    from policy_service.services import replay as svc_replay
    from policy_service.services.book_jobs import replay_of_book

    start = date_from(since)
    prod = product_at(product, path)
    if book is not None:
        try:
            report = replay_of_book(book, prod, start, dask)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    elif dask is not None:
        raise click.ClickException("--dask reads an exported dataset: give --book")
    else:
        with command_services() as svc:
            total = svc_replay.count(svc.uow, product, start)
            with click.progressbar(
                length=total, label=f"replaying {product}", file=sys.stderr
            ) as bar:
                report = svc_replay.replay(svc.uow, prod, start, bar.update)
    click.echo(
        f"{product}: {report.checked} policies replayed, {report.same} identical, "
        f"{len(report.differences)} different"
    )
    for diff in report.differences[:200]:
        parts = "; ".join(f"{k}: {old} -> {new}" for k, (old, new) in diff.parts.items())
        click.echo(f"  {diff.policy_id} ({diff.edition}): {parts}")
    if len(report.differences) > 200:
        click.echo(f"  ... and {len(report.differences) - 200} more")
    if report.differences:
        sys.exit(1)
