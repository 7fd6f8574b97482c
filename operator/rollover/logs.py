"""Operator logging: one JSON object per line (for log pipelines) or the classic text line (for people).

Every JSON line has `time`, `level`, `logger` and `message`, plus `rollover` (namespace/name),
`district`, `step` and `product` when the record carries them: pass `extra=fields(...)` to a log call.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, Literal

LogFormat = Literal["json", "text"]
FORMATS: tuple[LogFormat, ...] = ("json", "text")
#: The optional context fields, in output order.
CONTEXT_FIELDS = ("rollover", "district", "step", "product")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def fields(
    namespace: str,
    name: str,
    *,
    district: str | None = None,
    step: str | None = None,
    product: str | None = None,
) -> dict[str, str]:
    """The `extra` for a log call about one rollover (empty values are left out)."""
    found = {"rollover": f"{namespace}/{name}", "district": district, "step": step, "product": product}
    return {key: value for key, value in found.items() if value}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value:
                line[key] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def default_format() -> LogFormat:
    """JSON unless a person is watching (stderr is a terminal)."""
    return "text" if sys.stderr.isatty() else "json"


def setup(log_format: LogFormat, *, verbose: bool = False) -> None:
    """Route every logger to stderr in `log_format`, at INFO (DEBUG with `verbose`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # One line per HTTP request, without a rollover to tie it to: only when asked for.
    logging.getLogger("httpx2").setLevel(logging.DEBUG if verbose else logging.WARNING)
