"""Reports on books of policies: impact, experience (calibrate: calibration.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
    from pricing.model import Product


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
    mode: str | None,
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
