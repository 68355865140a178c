"""Log lines for journald and terminals: one line an event, `key=value` fields, secrets never included.

Every module logs through `event(logger, level, name, **fields)`; `setup()` installs the one stderr handler.
Callers pass redacted URLs and names (monitor.redact; targets: notify.mask_url); as a safety net, every URL
written in a value is redacted here too (user-info and secret parameters). Values are quoted when they
contain spaces.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from monitor.redact import redact_text

LOGGER_NAME = "monitor"


def get(name: str) -> logging.Logger:
    """The logger of a monitor module, e.g. get("pipeline")."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


def _quote(value: object) -> str:
    text = redact_text(str(value)).replace("\n", " ").replace("\r", " ")
    if not text or any(char in text for char in ' "='):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def format_fields(event_name: str, fields: dict[str, object]) -> str:
    """`event=name key=value ...` with values quoted where needed and None fields left out."""
    parts = [f"event={event_name}"]
    parts.extend(f"{key}={_quote(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)


def event(logger: logging.Logger, level: int, event_name: str, **fields: object) -> None:
    """Log one event as a key=value line."""
    if logger.isEnabledFor(level):
        logger.log(level, format_fields(event_name, fields))


class _Formatter(logging.Formatter):
    def __init__(self, with_time: bool) -> None:
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} " if self.with_time else ""
        line = f"{prefix}level={record.levelname.lower()} {record.getMessage()}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += " exception=" + _quote(repr(record.exc_info[1]))
        return line


def setup(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send monitor's logs to stderr; timestamps only when not under journald (which adds its own)."""
    import os

    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(with_time="JOURNAL_STREAM" not in os.environ))
    root = logging.getLogger(LOGGER_NAME)
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # apprise logs delivery failures itself, sometimes with secrets; notify.py reports them masked instead.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
