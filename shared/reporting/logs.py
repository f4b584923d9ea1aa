"""One JSON object per line with `severity`, as Cloud Logging reads it."""
from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import datetime, timezone
from typing import Any

# LogRecord attributes that are not user-supplied `extra` fields.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_SEVERITY = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL"}


class CloudLoggingJsonFormatter(logging.Formatter):
    """Formats a record as the JSON line Cloud Logging turns into a structured entry."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "logger": record.name,
        }
        trace = getattr(record, "trace", None)
        project = os.environ.get("GOOGLE_CLOUD_PROJECT")
        if trace and project:
            entry["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace}"
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key != "trace" and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            # Only the type and a stack, never the exception text: messages from drivers can carry row data.
            entry["stack_trace"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, default=str, ensure_ascii=False)


_configured = False


def configure(level: str | None = None, stream: Any = None) -> None:
    """Install the JSON formatter on the root logger once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(CloudLoggingJsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
