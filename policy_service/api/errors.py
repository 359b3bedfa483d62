"""Errors as HTTP responses: the service errors through presentation/errors.py (the one
table of statuses, shared with the console and the worker), and Flask's and the
database's own errors in the same shape."""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, has_request_context, request
from werkzeug.exceptions import HTTPException

from policy_service.domain import errors as e
from policy_service.presentation import api_language
from policy_service.presentation.errors import error_body

from .context import services

log = logging.getLogger(__name__)


def error_response(error: e.ServiceError) -> Response:
    status, body = error_body(error)
    response = Response(
        json.dumps(in_language(body), ensure_ascii=False),
        status=status,
        mimetype="application/json",
    )
    if status == 503:
        response.headers["Retry-After"] = "1"
    if isinstance(error, e.RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def in_language(body: dict[str, Any]) -> dict[str, Any]:
    """An error body in the language the caller prefers (Accept-Language; codes unchanged)."""
    if not has_request_context():
        return body
    language = api_language.chosen(request.accept_languages)
    if language == "en":
        return body
    reasons_zh: dict[str, str] = {}
    for product in services().catalog.all():
        reasons_zh.update(product.messages_zh)
    return api_language.localized(body, language, reasons_zh)


def _webargs_param(messages: Any, prefix: str = "") -> tuple[str, str]:
    """The first failing field of a webargs error, as a dotted path, and its message."""
    while isinstance(messages, dict) and messages:
        key, messages = next(iter(messages.items()))
        if key not in ("json", "query", "headers", "form", "_schema"):
            prefix = f"{prefix}.{key}" if prefix else str(key)
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, dict):
            return _webargs_param(first, prefix)
        return prefix, str(first)
    return prefix, str(messages)


def _http_error(exc: HTTPException) -> Response:
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # webargs/marshmallow validation
        param, message = _webargs_param(data["messages"])
        if message == "Invalid JSON body.":
            return error_response(
                e.InvalidRequest("the body is not valid JSON", code="invalid_json")
            )
        if message == "Unknown field.":
            message = "is not a field of this request"
        return error_response(e.InvalidRequest(message, param=param or None))
    code = exc.code or 500
    if code == 413:
        return error_response(e.PayloadTooLarge("the request body is too large"))
    if code == 404:
        return error_response(e.NotFound("no such endpoint", code="unknown_endpoint"))
    if code == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        err = e.InvalidRequest(
            f"this method is not allowed here (allowed: {', '.join(allowed)})",
            code="method_not_allowed",
        )
        resp = error_response(err)
        resp.status_code = 405
        if allowed:
            resp.headers["Allow"] = ", ".join(allowed)
        return resp
    if code == 400:
        return error_response(e.InvalidRequest(exc.description or "bad request"))
    if code >= 500:
        log.error("HTTP %s: %s", code, exc.description)
        return error_response(e.ServiceError("internal error; it has been logged"))
    resp = error_response(e.InvalidRequest(exc.description or exc.name))
    resp.status_code = code
    return resp


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(e.ServiceError, error_response)
    app.register_error_handler(HTTPException, _http_error)

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.TimeoutError)
    def _db_unavailable(exc: Exception) -> Response:
        log.error("database unavailable: %s", exc)
        return error_response(e.ServiceUnavailable("the database is unavailable; retry shortly"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Log the traceback, never the request body (it may hold personal data).
        log.exception("unhandled error")
        return error_response(e.ServiceError("internal error; it has been logged"))
