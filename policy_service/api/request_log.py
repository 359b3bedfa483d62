"""One log line per request, and its id: X-Request-Id is taken from the caller when it is
a plain token (else made here) and echoed on the answer, so a partner's support request
and our logs name the same request. The line holds the method, the route's pattern (never
the path's ids or the query string), the status, the latency and the partner's id."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from policy_service.services import metrics

log = logging.getLogger("policy_service.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def register_request_log(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _log(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        started = g.get("started")
        caller = g.get("caller")
        rule = request.url_rule
        seconds = time.perf_counter() - started if started is not None else 0.0
        metrics.request(
            request.method,
            rule.rule if rule is not None else "(no route)",
            response.status_code,
            seconds,
        )
        log.info(
            "%s %s %s",
            request.method,
            rule.rule if rule is not None else "(no route)",
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": rule.rule if rule is not None else None,
                "status": response.status_code,
                "latency_ms": round(seconds * 1000, 2) if started is not None else None,
                "partner_id": caller.partner_id or None if caller is not None else None,
            },
        )
        return response
