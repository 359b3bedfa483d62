"""Unknown query parameters are refused, naming them: `?policyholder=` on a list that has
no such filter would otherwise answer the unfiltered list as if it were filtered. The
parameters an endpoint takes are those its query schema declares (flask-smorest)."""

from __future__ import annotations

import functools
from typing import Any

from flask import current_app, request

from policy_service.domain.errors import InvalidRequest


@functools.lru_cache(maxsize=512)
def _declared(endpoint: str, method: str) -> frozenset[str] | None:
    view: Any = current_app.view_functions.get(endpoint)
    handler = getattr(getattr(view, "view_class", None), method.lower(), None)
    if handler is None:
        return None  # not an API resource (docs, health): not checked
    names: set[str] = set()
    apidoc = getattr(handler, "_apidoc", {})
    for parameter in apidoc.get("arguments", {}).get("parameters", []):
        if parameter.get("in") == "query":
            schema = parameter["schema"]
            names |= {field.data_key or name for name, field in schema.fields.items()}
    return frozenset(names)


def check_query_parameters() -> None:
    if not request.args or request.endpoint is None or request.method in ("HEAD", "OPTIONS"):
        return
    declared = _declared(request.endpoint, request.method)
    if declared is None:
        return
    unknown = sorted(set(request.args) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise InvalidRequest(
            f"is not a parameter of this endpoint (it takes: {takes})",
            code="unknown_parameter",
            param=unknown[0],
        )
