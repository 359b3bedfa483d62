"""Log lines, JSON (one object per line, for collectors) or text: either way a CR or LF in
anything logged is escaped, so no request can forge a line."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

#: what a request's log line carries besides the message (never a query string, a body,
#: a key or personal data)
REQUEST_FIELDS = ("request_id", "method", "route", "status", "latency_ms", "partner_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # json escapes CR and LF inside strings: one record is one line
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(
            f"{name}={getattr(record, name)}"
            for name in REQUEST_FIELDS
            if getattr(record, name, None) is not None
        )
        head, _, trace = text.partition("\nTraceback")
        head = escape(f"{head} {extra}" if extra else head)
        # a traceback keeps its lines (it is ours, not a caller's text)
        return f"{head}\nTraceback{trace}" if trace else head


def escape(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    """Every logger through one handler on stderr, in `fmt` (json or text), unless the
    process's logging is already set up by someone else (a test runner's capture)."""
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "policy_service", False)]
    if ours:
        ours[0].setFormatter(formatter)
        return
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.policy_service = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
