"""The console's pure parts: every label has a Chinese translation, amounts and times are
formatted for the locale, charts scale to round ticks and escape what they print."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from policy_service.domain.claims import REJECT_CODES, SIGNAL_CODES, TRIGGER_STATUSES, ClaimStatus
from policy_service.domain.lifecycle import PolicyStatus
from policy_service.ops import charts, i18n

OPS = Path(__file__).parents[2] / "policy_service" / "ops"
_TEMPLATE_LABEL = re.compile(r"""_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def _labels() -> set[str]:
    found: set[str] = set()
    for template in (OPS / "templates").glob("*.html"):
        for literal in _TEMPLATE_LABEL.findall(template.read_text()):
            found.add(ast.literal_eval(literal))
    for module in OPS.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_label_and_code_the_console_shows_has_a_chinese_translation() -> None:
    labels = _labels()
    assert len(labels) > 100  # the scan finds the templates' labels
    codes = {*SIGNAL_CODES, *REJECT_CODES, *(str(s) for s in ClaimStatus)}
    codes |= {str(s) for s in PolicyStatus} | {"reviewer", "approver", "admin"}
    codes |= set(TRIGGER_STATUSES)  # an incident's reports
    missing = sorted((labels | codes) - set(i18n.ZH))
    assert missing == []


def test_money_and_times_for_the_locale() -> None:
    assert i18n.money("en", Decimal("1234.5"), "CNY") == "CN¥1,234.50"
    assert i18n.money("zh", Decimal("1234.5"), "CNY") == "¥1,234.50"
    assert i18n.money("zh", Decimal("250"), "CNY", whole=True) == "¥250"
    assert i18n.money("en", None, "CNY") == "—"
    at = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert i18n.when("en", at, "Asia/Shanghai") == "2026-11-25 10:00"
    assert i18n.age("en", timedelta(days=2, hours=3, minutes=5)) == "2 d 3 h"
    assert i18n.age("zh", timedelta(hours=3, minutes=5)) == "3小时5分钟"
    assert i18n.percent("zh", Decimal("0.6543")) == "65.4%"
    assert i18n.translate("zh", "Claim {id}", id="clm_1") == "理赔 clm_1"
    assert i18n.translate("en", "evidence_reused") == "evidence reused"


@pytest.mark.parametrize(
    ("value", "whole", "top", "step"),
    [
        (7, True, 8, 2),
        (2, True, 2, 1),
        (0, True, 4, 1),
        (83.5, False, 100, 25),
        (0.3, False, 0.3, 0.1),
    ],
)
def test_axes_end_on_round_ticks(value: float, whole: bool, top: float, step: float) -> None:
    got_top, got_step = charts._scale(value, whole)
    assert got_top == pytest.approx(top) and got_step == pytest.approx(step)


def test_charts_escape_labels_and_flag_ratios_above_the_limit() -> None:
    svg = charts.ratio_bars(
        [("<b>x</b>", Decimal("1.5"), "dear"), ("ok", Decimal("0.5"), "fine"), ("new", None, "-")],
        "loss",
    )
    assert "<b>x</b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert svg.count(charts.PALETTE["amber"]) == 1 and svg.count(charts.PALETTE["green"]) == 1
    bars = charts.stacked_bars(["a", "b"], [("n", "blue", [1, 0])], str, "t", whole=True)
    assert bars.count("<rect") == 1 and "<title>a · n: 1</title>" in bars
