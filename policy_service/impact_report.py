"""Actuaries' reports (impact, experience) as self-contained HTML files: inline CSS and
SVG charts, no scripts."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

import pandas as pd

from pricing.impact import ImpactReport

from .ops import charts

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#1f2a33;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}th,td{padding:5px 8px;border-bottom:1px solid #dde2e7;text-align:left}
th{font-size:12px;color:#5b6670}td.n{text-align:right;font-variant-numeric:tabular-nums}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.tile{border:1px solid #dde2e7;border-radius:6px;padding:10px 12px}.tile b{display:block;font-size:22px}
svg.chart{width:100%;height:auto}
"""


def render(report: ImpactReport) -> str:
    data = report.to_json()
    total = data["total_premium"]
    tiles = [
        ("policies in the book", f"{report.rows:,}"),
        ("priced on both editions", f"{report.priced_both:,}"),
        ("premium changed", f"{report.changed:,}"),
        (
            "total premium",
            f"{total['from']} → {total['to']} {report.currency} ({report.change_pct:+.2f}%)",
        ),
    ]
    bands = charts.bars(
        [label for label, _ in report.bands],
        [count for _, count in report.bands],
        lambda v: f"{int(v):,}",
        "policies per % change",
        whole=True,
    )
    movers = "".join(
        f"<tr><td>{escape(m.segment)}</td><td>{escape(m.level)}</td>"
        f'<td class="n">{m.policies:,}</td><td class="n">{m.mean_change_pct:+.2f}%</td>'
        f'<td class="n">{m.total_change:+,} {escape(report.currency)}</td></tr>'
        for m in report.movers
    )
    refusals = "".join(
        f'<tr><td>{escape(code)}</td><td class="n">{n:,}</td></tr>'
        for code, n in report.refusal_codes_b.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Impact of {escape(report.product)} {escape(report.edition_a)} → {escape(report.edition_b)}</title>
<style>{_CSS}</style></head><body>
<h1>Impact of {escape(report.product)} {escape(report.edition_a)} → {escape(report.edition_b)}</h1>
<p>Book: {escape(report.book)}. Each risk is priced on both editions at the time it was sold
or quoted; premiums are totals including tax.</p>
<div class="tiles">{"".join(f'<div class="tile">{escape(k)}<b>{escape(v)}</b></div>' for k, v in tiles)}</div>
<h2>Change in premium</h2>{bands}
<table><tr><th>band</th><th class="n">policies</th></tr>
{"".join(f'<tr><td>{escape(k)}</td><td class="n">{v:,}</td></tr>' for k, v in report.bands)}</table>
<h2>Biggest movers by segment</h2>
<table><tr><th>segment</th><th>level</th><th class="n">policies</th><th class="n">mean change</th><th class="n">total change</th></tr>
{movers or '<tr><td colspan="5">no premium changes</td></tr>'}</table>
<h2>Eligibility</h2>
<p>{report.lose_cover:,} risks priced on {escape(report.edition_a)} are refused (or cannot be
priced) on {escape(report.edition_b)}; {report.gain_cover:,} refused on {escape(report.edition_a)}
are priced on {escape(report.edition_b)}.</p>
<table><tr><th>why {escape(report.edition_b)} refuses</th><th class="n">risks</th></tr>{refusals or '<tr><td colspan="2">none</td></tr>'}</table>
</body></html>
"""


def render_experience(product: str, table: Any, by: list[str], period: str, currency: str) -> str:
    """The experience table with a loss-ratio chart, as one HTML page."""
    keys = [c for c in table.columns if c in ("period", "book", *by)]
    label = [" · ".join(str(row[k]) for k in keys) for _, row in table.iterrows()]
    ratios = [
        (name, None if pd.isna(r) else Decimal(str(round(float(r), 4))), f"{int(n):,} policies")
        for name, r, n in zip(label, table["loss_ratio"], table["policies"], strict=True)
    ]
    chart = charts.ratio_bars(ratios, "loss ratio", fmt=lambda v: f"{float(v):.1%}")
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(row[k]))}</td>" for k in keys)
        + f'<td class="n">{int(row["policies"]):,}</td>'
        + f'<td class="n">{row["exposure"]:,.1f}</td>'
        + f'<td class="n">{row["earned_premium"]:,.2f}</td>'
        + f'<td class="n">{int(row["claims"]):,}</td>'
        + f'<td class="n">{row["claim_cost"]:,.2f}</td>'
        + f'<td class="n">{_pct(row["frequency"])}</td>'
        + f'<td class="n">{_num(row["severity"])}</td>'
        + f'<td class="n">{_pct(row["loss_ratio"])}</td></tr>'
        for _, row in table.iterrows()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Experience of {escape(product)}</title>
<style>{_CSS}</style></head><body>
<h1>Experience of {escape(product)}</h1>
<p>By {escape(", ".join(by) or "the whole book")}; period: {escape(period)}. Amounts in {escape(currency)};
earned premium is net of tax and pro rata over the cover; claims are paid claims.</p>
<h2>Loss ratio</h2>{chart}
<h2>Figures</h2>
<table><tr>{head}<th class="n">policies</th><th class="n">exposure</th><th class="n">earned premium</th>
<th class="n">claims</th><th class="n">claim cost</th><th class="n">frequency</th><th class="n">severity</th>
<th class="n">loss ratio</th></tr>{rows}</table>
</body></html>
"""


def _pct(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.2%}"


def _num(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:,.2f}"
