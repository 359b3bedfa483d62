"""The API's messages in Chinese, for a caller whose Accept-Language prefers it. Codes,
params and every other field stay as they are: clients rely on the codes, people read
the messages.

A message is translated by its code where the code says it all, by its English pattern
where the message carries values (an input's name, the allowed values), and otherwise
gets its error type's Chinese heading with the English detail after it. A product's
refusal reasons come from its product.yaml (`messages_zh`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

LANGUAGES = ("en", "zh")

#: codes whose message says nothing the code does not
BY_CODE = {
    "invalid_json": "请求体不是有效的 JSON",
    "unknown_endpoint": "没有这个接口",
    "missing_api_key": "缺少 API 密钥（Authorization: Bearer sk_...）",
    "invalid_api_key": "API 密钥无效",
    "key_revoked": "该 API 密钥已被吊销",
    "rate_limited": "请求过于频繁，请在 Retry-After 秒后重试",
    "payload_too_large": "请求体过大",
    "internal_error": "内部错误，已记录",
    "service_unavailable": "服务暂时不可用，请稍后重试",
    "payment_service_unavailable": "支付服务暂时不可用，请用同一 Idempotency-Key 重试",
    "quote_expired": "报价已过期，请重新报价",
    "quote_already_used": "该报价已被使用",
    "quote_edition_withdrawn": "该报价所用的产品版本已停售，请重新报价",
    "duplicate_cover": "该标的已有有效保单，不能重复投保",
    "duplicate_external_ref": "该 external_ref 已有保单",
    "claim_in_review": "保单有理赔正在审核中，审核结束前不能退保",
    "claim_exists": "保单已有理赔，不能批改",
    "policy_not_active": "保单不在保障中，不能批改",
    "not_endorsable": "该产品的保单出单后不能批改",
    "product_not_in_force": "该产品尚无生效的版本",
    "concurrent_update": "数据刚被并发修改，请重试",
    "idempotency_key_reused": "该 Idempotency-Key 已用于另一个请求",
    "idempotency_request_in_progress": "使用该 Idempotency-Key 的请求仍在处理中",
    "insufficient_scope": "该 API 密钥缺少所需权限",
    "method_not_allowed": "此接口不支持该请求方法",
    "resource_missing": "未找到该对象",
    "invalid_id_number": "证件号码无效",
    "card_declined": "银行卡被拒绝",
}

#: English messages with values, and their Chinese (groups carried over)
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(f"^{english}$"), chinese)
    for english, chinese in (
        (r"is required", "为必填项"),
        (r"is required \(1 to 100 characters\)", "为必填项（1 至 100 个字符）"),
        (r"must be one of: (.+)", r"必须是以下之一：\1"),
        (r"is not a field of this request", "不是该请求的字段"),
        (r"is not a field of an issue request", "不是出单请求的字段"),
        (r"is not a field of an endorsement", "不是批改请求的字段"),
        (
            r"is not a parameter of this endpoint \(it takes: (.+)\)",
            r"不是该接口的参数（可用参数：\1）",
        ),
        (r"must be digits with an optional leading \+", "必须是数字，可带前导 +"),
        (r"must be 1 to 100 characters", "必须为 1 至 100 个字符"),
        (r"must be 1 to 255 characters", "必须为 1 至 255 个字符"),
        (r"must be a decimal(?: number)?.*", "必须是十进制数"),
        (r"must be a date.*", "必须是日期（YYYY-MM-DD）"),
        (r"no policy (\S+)", r"没有保单 \1"),
        (r"no claim (\S+)", r"没有理赔 \1"),
        (r"no quote (\S+)", r"没有报价 \1"),
        (r"no product '([^']+)'; on sale: (.*)", r"没有产品 \1；在售产品：\2"),
        (r"no trigger event (\S+)", r"没有触发事件 \1"),
        (r"no policy names this person", "没有保单载明此人"),
        (r"cannot change after issue; (\S+) lets change: (.+)", r"出单后不能修改；\1 允许修改：\2"),
        (r"changes nothing: every value is the policy's already", "没有任何变化：各项值与保单相同"),
        (r"this API key lacks the (\S+) scope", r"该 API 密钥缺少 \1 权限"),
        (
            r"a (\S+) policy for external_ref '(.+)' already exists: (\S+)",
            r"external_ref '\2' 已有 \1 保单：\3",
        ),
        (r"a (\S+) policy with the same (.+) is already in force", r"已有相同\2的 \1 有效保单"),
        (
            r"policy (\S+) has claim (\S+); a policy with a claim cannot change",
            r"保单 \1 已有理赔 \2，不能批改",
        ),
    )
)

#: an error type's heading, for a message nothing above translates
BY_TYPE = {
    "invalid_request": "请求无效",
    "authentication_error": "身份验证失败",
    "permission_error": "没有权限",
    "conflict": "与当前状态冲突",
    "idempotency_error": "幂等键冲突",
    "refused": "请求被拒绝",
    "rate_limit_error": "请求过于频繁",
    "card_error": "支付失败",
    "api_error": "服务错误",
}


def chosen(accept_language: Any) -> str:
    """`zh` when the caller's Accept-Language prefers Chinese (werkzeug's parsed header),
    else `en`."""
    best = accept_language.best_match(("en", "zh", "zh-CN", "zh-Hans"), default="en")
    return "zh" if best and best.lower().startswith("zh") else "en"


def message_zh(
    error: Mapping[str, Any], reasons_zh: Mapping[str, str] | None = None
) -> tuple[str, list[dict[str, Any]] | None]:
    """The Chinese message of an error body ({type, code, message, ...}), and its refusal
    reasons in Chinese when it has any."""
    reasons = error.get("reasons")
    zh_reasons = None
    if isinstance(reasons, list):
        zh_reasons = [
            {**r, "message": (reasons_zh or {}).get(str(r.get("code")), r.get("message"))}
            for r in reasons
        ]
        return "；".join(str(r["message"]) for r in zh_reasons), zh_reasons
    code = str(error.get("code", ""))
    if code in BY_CODE:
        return BY_CODE[code], None
    if reasons_zh and code in reasons_zh:
        return reasons_zh[code], None
    english = str(error.get("message", ""))
    for pattern, chinese in PATTERNS:
        if pattern.match(english):
            return pattern.sub(chinese, english), None
    heading = BY_TYPE.get(str(error.get("type")), "错误")
    return f"{heading}：{english}", None


def localized(body: dict[str, Any], language: str, reasons_zh: Mapping[str, str]) -> dict[str, Any]:
    """An error body in the caller's language (a copy; the codes unchanged)."""
    if language != "zh" or "error" not in body:
        return body
    error = dict(body["error"])
    error["message"], zh_reasons = message_zh(error, reasons_zh)
    if zh_reasons is not None:
        error["reasons"] = zh_reasons
    return {**body, "error": error}


def product_in_zh(
    view: dict[str, Any], name_zh: str, description_zh: str, messages_zh: Mapping[str, str]
) -> dict[str, Any]:
    """A product's view with its texts in Chinese where the product gives them (name,
    description, refusal reasons); `name_zh` stays as it is for clients that read it."""
    out = dict(view)
    out["name"] = name_zh or view["name"]
    out["description"] = description_zh or view["description"]
    out["eligibility"] = [
        {**r, "message": messages_zh.get(r["code"], r["message"])} for r in view["eligibility"]
    ]
    if view.get("endorsements"):
        refusals = view["endorsements"]["refusals"]
        out["endorsements"] = {
            **view["endorsements"],
            "refusals": [
                {**r, "message": messages_zh.get(r["code"], r["message"])} for r in refusals
            ],
        }
    return out
