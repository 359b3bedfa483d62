"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, readable when printed.

Each function returns SVG markup; every bar carries a <title> so hovering shows the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal

from markupsafe import Markup, escape

Number = int | float | Decimal
Fmt = Callable[[Number], str]

PALETTE = {"blue": "#2f6fb3", "green": "#3b8f5a", "amber": "#c7821c", "grey": "#9aa4ae"}
_W, _H = 640, 200
_LEFT, _BOTTOM, _TOP, _RIGHT = 72, 28, 12, 8


def _scale(value: float, whole: bool = False) -> tuple[float, float]:
    """A round axis top at or above value, and its tick step (1, 2, 2.5 or 5 x 10^n; whole
    numbers of at least 1 when `whole`, so counts never get fractional ticks)."""
    if value <= 0:
        return (4.0, 1.0) if whole else (1.0, 0.25)
    raw = value / 4
    mag = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * mag for m in steps if m * mag >= raw)
    if whole:
        step = max(step, 1)
    return step * math.ceil(value / step - 1e-9), step


def _frame(height: int, top: float, step: float, fmt: Fmt, label: str) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" '
        f'role="img" aria-label="{escape(label)}" class="chart">'
    ]
    plot_h = height - _TOP - _BOTTOM
    ticks = round(top / step)
    for i in range(ticks + 1):
        y = _TOP + plot_h - plot_h * i / ticks
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e3e7eb" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5b6670">{escape(fmt(step * i))}</text>'
        )
    return out


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Number]]],
    fmt: Fmt,
    label: str,
    height: int = _H,
    axis: Fmt | None = None,
    whole: bool = False,
) -> Markup:
    """Vertical bars per label, one stacked segment per (name, colour, values) series."""
    totals = [sum(float(s[2][i]) for s in series) for i in range(len(labels))]
    top, step = _scale(max(totals, default=0.0), whole)
    out = _frame(height, top, step, axis or fmt, label)
    plot_w = _W - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM
    slot = plot_w / max(len(labels), 1)
    width = max(slot * 0.7, 1)
    every = max(1, round(len(labels) / 8))
    for i, text in enumerate(labels):
        x = _LEFT + i * slot + (slot - width) / 2
        base: float = _TOP + plot_h
        for name, colour, values in series:
            v = float(values[i])
            if v <= 0:
                continue
            h = plot_h * v / top
            base = base - h
            out.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE.get(colour, colour)}"><title>{escape(text)} · '
                f"{escape(name)}: {escape(fmt(values[i]))}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x + width / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="11" fill="#5b6670">{escape(text)}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def bars(
    labels: Sequence[str],
    values: Sequence[Number],
    fmt: Fmt,
    label: str,
    colour: str = "blue",
    axis: Fmt | None = None,
    whole: bool = False,
) -> Markup:
    return stacked_bars(labels, [(label, colour, values)], fmt, label, axis=axis, whole=whole)


def ratio_bars(
    rows: Sequence[tuple[str, Decimal | None, str]],
    label: str,
    fmt: Fmt = lambda v: f"{float(v):.0%}",
) -> Markup:
    """Horizontal bars of ratios (loss ratio per product and edition): (name, ratio, note).
    Bars above 100% are amber."""
    row_h, left, width = 30, 240, 1100
    height = _TOP + row_h * max(len(rows), 1) + _BOTTOM
    top, _ = _scale(max([float(r or 0) for _, r, _ in rows] + [1.0]))
    plot_w = width - left - _RIGHT - 320
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" class="chart">'
    ]
    for i, (name, ratio, note) in enumerate(rows):
        y = _TOP + i * row_h
        out.append(
            f'<text x="{left - 8}" y="{y + 18}" text-anchor="end" font-size="12" '
            f'fill="#26313b">{escape(name)}</text>'
        )
        if ratio is None:
            out.append(
                f'<text x="{left}" y="{y + 18}" font-size="12" fill="#5b6670">{escape(note)}</text>'
            )
            continue
        w = plot_w * float(ratio) / top
        colour = PALETTE["amber"] if ratio > 1 else PALETTE["green"]
        out.append(
            f'<rect x="{left}" y="{y + 5}" width="{max(w, 1):.1f}" height="18" '
            f'fill="{colour}"><title>{escape(name)}: {escape(fmt(ratio))} · '
            f"{escape(note)}</title></rect>"
        )
        out.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 18}" font-size="12" fill="#26313b">'
            f'<tspan font-weight="600">{escape(fmt(ratio))}</tspan> · {escape(note)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def share_bar(parts: Sequence[tuple[str, str, int]], label: str) -> Markup:
    """One 100% bar split into parts (name, colour, count), with a legend."""
    total = sum(n for _, _, n in parts)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} 64" role="img" '
        f'aria-label="{escape(label)}" class="chart">'
    ]
    x = 0.0
    legend_x = 0
    for name, colour, n in parts:
        share = n / total if total else 0
        w = _W * share
        fill = PALETTE.get(colour, colour)
        if w > 0:
            out.append(
                f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="28" fill="{fill}">'
                f"<title>{escape(name)}: {n} ({share:.0%})</title></rect>"
            )
        x += w
        out.append(
            f'<rect x="{legend_x}" y="42" width="12" height="12" fill="{fill}"/>'
            f'<text x="{legend_x + 18}" y="53" font-size="12" fill="#26313b">'
            f"{escape(name)}: {n} ({share:.0%})</text>"
        )
        legend_x += 220
    if total == 0:
        out.append('<rect x="0" y="0" width="640" height="28" fill="#e3e7eb"/>')
    out.append("</svg>")
    return Markup("".join(out))
