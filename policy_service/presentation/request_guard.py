"""Text no field may hold, refused once at the door: NUL (PostgreSQL cannot store it) and
lone surrogates (not valid Unicode, they cannot even be encoded to log an error)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from flask import request

from policy_service.domain.errors import InvalidRequest

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")

#: no request of ours nests deeper than a few levels; parsers recurse, so a body nested a
#: thousand deep would exhaust the stack instead of being refused
MAX_JSON_DEPTH = 64
_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(raw: bytes) -> bool:
    """Whether a JSON text nests deeper than MAX_JSON_DEPTH (brackets outside strings),
    in C-speed passes: most bodies have too few brackets to need even that."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False
    brackets = _STRING.sub(b"", _ESCAPED.sub(b"", raw)).translate(None, _NOT_BRACKET)
    steps = np.frombuffer(brackets, dtype=np.uint8)
    depth = np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1))
    return bool(len(depth)) and int(depth.max()) > MAX_JSON_DEPTH


def _bad(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def _walk(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _bad(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _bad(str(key)):
                return path or "body"
            found = _walk(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _walk(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def check_request_text() -> None:
    """Raise InvalidRequest naming the first field with forbidden characters."""
    for name, value in request.args.items(multi=True):
        if _bad(name) or _bad(value):
            raise InvalidRequest("contains a NUL or invalid Unicode character", param=name)
    if _bad(request.path):
        raise InvalidRequest("the path contains a NUL or invalid Unicode character")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if _bad(name) or _bad(value):
                raise InvalidRequest("contains a NUL or invalid Unicode character", param=name)
    for name in ("Idempotency-Key",):
        header = request.headers.get(name)
        if header is not None and _bad(header):
            raise InvalidRequest("contains a NUL or invalid Unicode character", param=name)
    # UTF-8 JSON can carry either only as a \u escape (a raw NUL is not JSON, a raw
    # surrogate not UTF-8): without one in the body there is nothing to look for. A body
    # with NUL bytes (UTF-16 or -32, which Flask also reads) is always walked.
    raw = request.get_data(cache=True) if request.is_json and request.content_length else b""
    if too_deep(raw):
        raise InvalidRequest(
            f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels", code="invalid_json"
        )
    if b"\\u" in raw or b"\x00" in raw:
        found = _walk(request.get_json(silent=True), "")
        if found is not None:
            raise InvalidRequest("contains a NUL or invalid Unicode character", param=found or None)
