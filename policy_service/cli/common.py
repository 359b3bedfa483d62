"""What the commands share: the services of one command, and how they read products,
editions and dates from their arguments."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import click

from policy_service.bootstrap import Services, bootstrap
from policy_service.config import load_config


@contextmanager
def command_services(load_products: bool = False) -> Iterator[Services]:
    """The service's parts for one command, its database connections closed when it ends."""
    services = bootstrap(load_config(), load_products=load_products, reload_seconds=0)
    try:
        yield services
    finally:
        services.dispose()


def catalog_at(path: Path | None) -> Any:
    from pricing.loader import load_catalog

    return load_catalog((path or load_config().products_dir).resolve())


def product_at(code: str, path: Path | None, catalog: Any = None) -> Any:
    """A valid product from the files (`catalog`: the one already loaded from `path`)."""
    root = (path or load_config().products_dir).resolve()
    catalog = catalog or catalog_at(path)
    if code in catalog.refused:
        errors = "\n  ".join(str(e) for e in catalog.refused[code].errors)
        raise click.ClickException(f"{code} is refused:\n  {errors}")
    if code not in catalog.products:
        raise click.ClickException(f"no product {code!r} under {root}")
    return catalog.products[code]


def edition_of(prod: Any, wanted: str) -> Any:
    try:
        return prod.named_edition(wanted)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def date_from(since: str | None) -> datetime | None:
    """--since YYYY-MM-DD as the start of that day in UTC."""
    try:
        return datetime.combine(date.fromisoformat(since), time.min, UTC) if since else None
    except ValueError:
        raise click.BadParameter("must be a date, YYYY-MM-DD", param_hint="--since") from None


def time_from(at_text: str | None) -> datetime:
    """--at as an aware time (default now)."""
    try:
        at = datetime.fromisoformat(at_text) if at_text else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(
            "must be an ISO 8601 time with offset", param_hint="--at"
        ) from None
    if at.tzinfo is None:
        raise click.BadParameter("needs a UTC offset, e.g. +08:00", param_hint="--at")
    return at


def actor_default() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return ""


@contextmanager
def progress_bar(label: str, show: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr that follows (done, total) calls: drawn on a terminal only
    (a pipe or a log file gets the final answer, not a stream of redraws), never with
    --json."""
    bar: Any = None
    shown = 0

    def advance(done: int, total: int) -> None:
        nonlocal bar, shown
        if not show or not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - shown)
        shown = done

    try:
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
