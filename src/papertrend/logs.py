"""Logging for every long-running process (web, worker): JSON lines or readable lines on stderr (#11).

The CLI's `serve` and `worker` commands and each `serve --workers N` web process call
`configure_logging` once at start.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from papertrend.config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, and the record's extra fields."""

    # uvicorn adds `color_message`, an ANSI-coloured copy of the message: noise in a log line.
    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One line per event for people: time, level, logger, event, then key=value extras."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in JsonFormatter._STANDARD)
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return line


def configure_logging(settings: Settings, *, level: int = logging.INFO) -> None:
    """Root logging to stderr: JSON lines when PAPERTREND_LOG_JSON=1, readable lines otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
