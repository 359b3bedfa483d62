"""The dashboard: the book at a glance, as server-side SVG charts."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from flask import request
from flask.typing import ResponseReturnValue

from policy_service.services.dashboard import dashboard as build_dashboard

from . import charts, i18n
from .blueprint import _, bp, lang, now, render_page, svc


def _money(language: str, currency: str, value: charts.Number, whole: bool = False) -> str:
    return i18n.money(language, Decimal(str(value)), currency, whole=whole)


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    live = request.args.get("mode", "live") != "test"
    d = build_dashboard(svc().uow, now(), svc().config.settlement_timezone, live)
    language = lang()
    labels = [day.day.strftime("%m-%d") for day in d.days]
    whole = lambda v: i18n.number(language, int(v))  # noqa: E731 - axis formatter
    figures = {
        "policies": charts.bars(
            labels,
            [day.policies for day in d.days],
            whole,
            _("Policies issued per day"),
            whole=True,
        ),
        "premium": {
            currency: charts.bars(
                labels,
                [day.premium.get(currency, Decimal(0)) for day in d.days],
                partial(_money, language, currency),
                f"{_('Premium per day')} ({currency})",
                colour="green",
                axis=partial(_money, language, currency, whole=True),
            )
            for currency in d.currencies
        },
        "claims": charts.stacked_bars(
            labels,
            [
                (_("decided automatically"), "blue", [day.claims_auto for day in d.days]),
                (_("reviewed by staff"), "amber", [day.claims_staff for day in d.days]),
                (_("still open"), "grey", [day.claims_open for day in d.days]),
            ],
            whole,
            _("Claims per day"),
            whole=True,
        ),
        "loss_ratio": charts.ratio_bars(
            [
                (
                    f"{r.product} {r.edition}",
                    r.ratio,
                    _("no earned premium yet")
                    if r.ratio is None
                    else f"{i18n.money(language, r.paid, r.currency)} / "
                    f"{i18n.money(language, r.earned, r.currency)}",
                )
                for r in d.loss_ratios
            ],
            _("Loss ratio per product and edition"),
            fmt=lambda v: i18n.percent(language, Decimal(str(v))),
        ),
        "share": charts.share_bar(
            [
                (_("decided automatically"), "blue", d.decided_auto),
                (_("reviewed by staff"), "amber", d.decided_staff),
            ],
            _("Decided automatically vs by a person (last 30 days)"),
        ),
    }
    return render_page("dashboard.html", d=d, figures=figures, live=live)
