"""Console languages: English labels in the templates, Chinese from this catalogue; numbers,
money and times formatted for the locale by Babel.

A unit test checks that every label the templates use has a Chinese entry here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from pricing.money import MoneyError, check_currency, parse_amount

LANGUAGES = {"en": "English", "zh": "中文"}
BABEL_LOCALE = {"en": "en_US", "zh": "zh_Hans_CN"}

ZH: dict[str, str] = {
    # navigation and layout
    "Ops console": "运营控制台",
    "Dashboard": "概览",
    "Claims queue": "理赔审核队列",
    "Policies": "保单",
    "Staff": "员工",
    "Log out": "退出登录",
    "Log in": "登录",
    "E-mail": "邮箱",
    "Password": "密码",
    "Language": "语言",
    "Live": "正式",
    "Test": "测试",
    "All modes": "全部模式",
    "test mode": "测试模式",
    "Filter": "筛选",
    "Clear": "清除",
    "Next page": "下一页",
    "Back to the queue": "返回审核队列",
    "Nothing here.": "暂无内容。",
    "Error": "错误",
    "Signed in as": "当前用户",
    # roles and statuses
    "reviewer": "审核员",
    "approver": "审批人",
    "admin": "管理员",
    "submitted": "已提交",
    "in_review": "审核中",
    "approved": "已批准",
    "rejected": "已拒绝",
    "paid": "已赔付",
    "payout_failed": "赔付失败",
    "pending_payment": "待支付",
    "active": "有效",
    "payment_failed": "支付失败",
    "cancelled": "已退保",
    "expired": "已到期",
    "trigger": "自动触发",
    "filed": "合作方报案",
    # queue
    "Product": "产品",
    "Partner": "合作方",
    "Signal": "风险信号",
    "Amount from": "金额下限",
    "Amount to": "金额上限",
    "Mode": "模式",
    "Any": "全部",
    "claims match": "条理赔符合条件",
    "at least": "至少",
    "Claim": "理赔",
    "Policy": "保单",
    "Amount claimed": "索赔金额",
    "Signals": "风险信号",
    "Age": "等待时长",
    "Waiting for a second approval": "等待第二审批",
    "Information requested": "已要求补充材料",
    "No claims wait for review with these filters.": "没有符合条件的待审核理赔。",
    # claim page
    "Decision": "决定",
    "Approve": "批准",
    "Reject": "拒绝",
    "Request information": "要求补充材料",
    "Retry payout": "重新赔付",
    "Amount": "金额",
    "Reason": "理由",
    "Reason code": "拒绝原因代码",
    "What is missing?": "需要补充什么？",
    "Required when the amount differs from the claim.": "金额与索赔金额不同时必填。",
    "Approvals above {limit} need a second approver (role approver or admin).": "超过 {limit} 的赔付需要第二位审批人（审批人或管理员角色）批准。",
    "First approval by {who}: {amount}, waiting for a second approver.": "{who} 已初审批准 {amount}，等待第二位审批人。",
    "This claim is closed: {status}.": "该理赔已结案：{status}。",
    "Policy and premium": "保单与保费",
    "Premium worksheet": "保费计算表",
    "Step": "步骤",
    "Value": "数值",
    "Running": "累计",
    "Inputs": "投保信息",
    "Coverage": "保障期间",
    "Premium": "保费",
    "Tax": "税",
    "Commission": "佣金",
    "Net": "净保费",
    "Trigger data": "触发事件数据",
    "Rule evaluation": "规则判定",
    "Rule": "规则",
    "Condition": "条件",
    "Holds": "成立",
    "yes": "是",
    "no": "否",
    "Result": "结果",
    "Observed at": "观测时间",
    "Source": "来源",
    "Corrections": "更正",
    "Evidence": "证据",
    "Attachments": "附件",
    "Description": "描述",
    "Fraud signals": "欺诈风险信号",
    "No signals.": "无风险信号。",
    "Related claims": "关联理赔",
    "Same policyholder or the same evidence.": "同一投保人或相同证据。",
    "Audit trail": "审计记录",
    "When": "时间",
    "Status": "状态",
    "Payout": "赔付",
    "top-up": "补付",
    "Created": "创建时间",
    "Decided": "决定时间",
    "Type": "类型",
    "Origin": "来源",
    "Edition": "版本",
    "Policyholder": "投保人",
    "External ref": "外部单号",
    "Claim {id}": "理赔 {id}",
    "The decision was saved.": "决定已保存。",
    # policies
    "Policy search": "保单查询",
    "Policy id": "保单号",
    "Issued from": "出单日期起",
    "Issued to": "出单日期止",
    "Search": "查询",
    "Issued": "出单时间",
    "No policies match.": "没有符合条件的保单。",
    "Claims": "理赔",
    "Events and webhook deliveries": "事件与 Webhook 推送",
    "Endorsements": "批改记录",
    "Incident": "事件",
    "Incidents": "事件报告",
    "Fact": "事实",
    "Matched": "匹配保单",
    "More": "更多",
    "Observed": "观测时间",
    "Observed from": "观测日期起",
    "Observed to": "观测日期止",
    "Paid": "已赔付",
    "Policies matched": "匹配的保单",
    "Received": "接收时间",
    "Report": "报告",
    "Reports on this subject": "同一标的的报告",
    "Subject": "标的",
    "Totals": "合计",
    "Trigger type": "触发类型",
    "no claim": "无理赔",
    "processed": "已处理",
    "superseded": "已被取代",
    "premature": "过早报告",
    "Policyholder name": "投保人姓名",
    "ID number": "证件号码",
    "Phone": "手机号",
    "Version": "版本",
    "Changes": "变更内容",
    "Premium difference": "保费差额",
    "Event": "事件",
    "Deliveries": "推送",
    "not delivered to any endpoint": "未推送到任何地址",
    "attempts": "次尝试",
    "Refund": "退款",
    "Cancelled": "退保时间",
    # dashboard
    "Policies issued per day": "每日出单量",
    "Premium per day": "每日保费",
    "Claims per day": "每日理赔",
    "Loss ratio per product and edition": "各产品及版本赔付率",
    "Loss ratio = paid claims / earned premium (net of tax, pro rata over the cover).": "赔付率 = 已赔付金额 / 已赚保费（不含税，按保障期间比例计算）。",
    "Decided automatically vs by a person (last 30 days)": "自动决定与人工审核占比（近30天）",
    "decided automatically": "自动决定",
    "reviewed by staff": "人工审核",
    "still open": "未结案",
    "Waiting for review": "待审核",
    "Oldest waiting": "最久等待",
    "Second approvals pending": "待第二审批",
    "Earned premium": "已赚保费",
    "Paid claims": "已赔付",
    "Loss ratio": "赔付率",
    "no earned premium yet": "尚无已赚保费",
    "Last 30 days": "近30天",
    # staff admin
    "Staff accounts": "员工账户",
    "Role": "角色",
    "Console login": "控制台登录",
    "Disabled": "已停用",
    "Disable": "停用",
    "Enable": "启用",
    "Save role": "保存角色",
    "Add a staff member": "新增员工",
    "Add": "新增",
    "at least {n} characters": "至少{n}个字符",
    "The staff account was saved.": "员工账户已保存。",
    # signal and reject codes
    "issued_after_event": "事故后投保",
    "soon_after_issue": "投保后短时间出险",
    "repeat_claimant": "频繁索赔",
    "above_auto_approve_limit": "超出自动赔付限额",
    "evidence_reused": "证据重复使用",
    "trigger_contradicts_claim": "事件数据与报案不符",
    "product_rule": "产品规则要求审核",
    "cannot_decide": "规则无法判定",
    "filed_claim": "合作方报案",
    "not_covered": "不在保障范围",
    "outside_cover_period": "不在保障期间",
    "duplicate": "重复理赔",
    "fraud_suspected": "疑似欺诈",
    "insufficient_evidence": "证据不足",
    "policy_not_in_force": "保单未生效",
    "policy_cancelled": "保单已退保",
    "trigger_refund": "事件退保（全额退费）",
    "other": "其他",
    # errors
    "Wrong e-mail or password. After {attempts} wrong passwords the login waits {minutes} minutes here.": "邮箱或密码错误。在此处连续{attempts}次密码错误后需等待{minutes}分钟再登录。",
    "Too many attempts from your address: wait {seconds} s.": "您的地址尝试次数过多，请等待{seconds}秒。",
    "Your session has ended; log in again.": "会话已结束，请重新登录。",
    "This form has expired or did not come from this console. Reload the page and try again.": "表单已过期或并非来自本控制台，请刷新页面后重试。",
    "Your role may not open this page.": "您的角色无权打开此页面。",
    "Not found.": "未找到。",
}


#: English words for the codes the service stores (statuses, signals, reject codes)
EN: dict[str, str] = {
    "in_review": "in review",
    "payout_failed": "payout failed",
    "pending_payment": "pending payment",
    "payment_failed": "payment failed",
    "filed": "filed by partner",
    "issued_after_event": "issued after the event",
    "soon_after_issue": "soon after issue",
    "repeat_claimant": "repeat claimant",
    "above_auto_approve_limit": "above auto-approve limit",
    "evidence_reused": "evidence reused",
    "trigger_contradicts_claim": "data contradicts claim",
    "product_rule": "product rule",
    "cannot_decide": "rules cannot decide",
    "filed_claim": "filed claim",
    "not_covered": "not covered",
    "outside_cover_period": "outside the cover period",
    "fraud_suspected": "fraud suspected",
    "insufficient_evidence": "insufficient evidence",
    "policy_not_in_force": "policy not in force",
    "policy_cancelled": "policy cancelled",
    "trigger_refund": "voided by an event (full refund)",
}


def translate(lang: str, text: str, **values: object) -> str:
    found = ZH.get(text, text) if lang == "zh" else EN.get(text, text)
    return found.format(**values) if values else found


def money(lang: str, amount: Decimal | str | None, currency: str, whole: bool = False) -> str:
    """An amount for the locale: CN¥1,234.50 in English, ¥1,234.50 in Chinese; `whole`
    drops the minor units (chart axes)."""
    if amount is None:
        return "—"
    try:
        # Partner-supplied evidence may hold anything that looks like money.
        amount = parse_amount(amount) if isinstance(amount, str) else Decimal(amount)
        check_currency(currency)
    except MoneyError:
        return f"{amount} {currency}"
    if whole:
        return format_currency(
            Decimal(amount), currency, "¤#,##0", locale=BABEL_LOCALE[lang], currency_digits=False
        )
    return format_currency(Decimal(amount), currency, locale=BABEL_LOCALE[lang])


def number(lang: str, value: int | Decimal) -> str:
    return format_decimal(value, locale=BABEL_LOCALE[lang])


def percent(lang: str, value: Decimal | float | None) -> str:
    if value is None:
        return "—"
    return format_percent(value, format="#,##0.0%", locale=BABEL_LOCALE[lang])


def when(lang: str, value: datetime | str | None, tz: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_datetime(
        value, "yyyy-MM-dd HH:mm", tzinfo=ZoneInfo(tz), locale=BABEL_LOCALE[lang]
    )


def age(lang: str, delta: timedelta) -> str:
    """How long something has waited: 3 d 4 h / 3天4小时."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = ("天", "小时", "分钟") if lang == "zh" else (" d", " h", " min")
    sep = "" if lang == "zh" else " "
    if days:
        return f"{days}{units[0]}{sep}{hours}{units[1]}"
    if hours:
        return f"{hours}{units[1]}{sep}{mins}{units[2]}"
    return f"{mins}{units[2]}"
