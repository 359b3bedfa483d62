"""`policy-service export`: the book as a Parquet dataset, for the actuarial jobs on one
process or on a Dask cluster, and for any tool that reads Parquet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from .common import catalog_at, command_services, date_from
from .main import main


@main.command("export")
@click.argument("table", type=click.Choice(["policies", "claims", "ledger"]))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the dataset's folder")
@click.option(
    "--since",
    default=None,
    help="only policies sold (claims: of policies sold; ledger: entries booked) from this "
    "date, YYYY-MM-DD (UTC)",
)
@click.option(
    "--until", default=None, help="only changes up to the end of this date, YYYY-MM-DD (UTC)"
)
@click.option(
    "--compact",
    is_flag=True,
    help="then rewrite each product-month holding superseded versions (a changed policy, "
    "an erased person) as its latest versions only",
)
def export(table: str, out: Path, since: str | None, until: str | None, compact: bool) -> None:
    """Add to a Parquet dataset (partitioned by product and month) what TABLE gained or
    changed since the last run into the same folder. Stopped, it goes on from where it
    was. Money as minor units and currency; a person as the keyed ID hash only, and an
    order or tracking number (product.yaml's identifiers) as a keyed hash."""
    from policy_service.adapters.parquet_book import compact as compact_table
    from policy_service.services.book_export import Masking, export_table

    start = date_from(since)
    try:
        day = date_from(until)
    except click.BadParameter:
        raise click.BadParameter("must be a date, YYYY-MM-DD", param_hint="--until") from None
    end = None if day is None else day + timedelta(days=1) - timedelta(microseconds=1)
    with command_services() as svc:

        def said(rows: int) -> None:
            click.echo(f"  {rows:,} rows ...", err=True)

        try:
            catalog = catalog_at(None)
            masking = Masking.of(
                catalog.products.values(), svc.config.pii_hash_key, catalog.triggers
            )
            done = export_table(
                svc.uow, table, out, start, end, datetime.now(UTC), masking, progress=said
            )
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{table}: {done.rows:,} rows in {done.files:,} files added to {out}")
    if compact:
        rewritten = compact_table(out, table)
        click.echo(f"{table}: {rewritten:,} product-months compacted")
