"""The event object, as GET /v1/events shows it and as webhooks deliver it (byte for byte)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def event_object(
    event_id: str, event_type: str, created: datetime, livemode: bool, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "livemode": livemode,
        "data": {"object": data},
    }


def event_body(event: dict[str, Any]) -> bytes:
    """The exact bytes a webhook carries (and its signature covers)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
