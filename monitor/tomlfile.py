"""Reading TOML files with errors that name the file and line; used by config.py and rules.py.

tomllib reports syntax errors with a line but gives no positions for valid documents, so `line_of` finds
the line where a table or key was written by scanning the text. Reads a file; no other I/O.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_toml(path: Path, error: type[MonitorError]) -> tuple[dict[str, Any], str]:
    """Parse `path`, returning the document and its text; raise `error` naming file and line on failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", location=str(path)) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason} at byte {exc.start})", location=str(path)) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", location=str(path)) from None
    return parse_toml(text, path, error), text


def parse_toml(text: str, path: Path, error: type[MonitorError]) -> dict[str, Any]:
    """Parse TOML `text` (from `path`, for messages); raise `error` naming file and line on failure. Pure."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        location = f"{path}:{position.group(1)}" if position else str(path)
        message = _TOML_POSITION.sub("", message).strip()
        raise error(f"invalid TOML: {message}", location=location) from None


def line_of(text: str, table: str | None = None, key: str | None = None, occurrence: int = 0) -> int | None:
    """1-based line where `[table]` (or `[[table]]` number `occurrence`) and then `key` appear, if found.

    `table` is the dotted header as written, e.g. "rules.kataib-hezbollah" or "feeds"; `key` is looked for
    after that header (or from the top when `table` is None), up to the next header.
    """
    return TomlLines(text).line_of(table, key, occurrence)


class TomlLines:
    """Line lookups in one TOML text; each table's headers are found once, so naming the line of every
    `[[feeds]]` entry of a long file stays linear."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self._headers: dict[str, list[int]] = {}

    def header_lines(self, table: str) -> list[int]:
        """0-based line numbers of every `[table]` / `[[table]]` header, in order."""
        found = self._headers.get(table)
        if found is None:
            header = re.compile(r"^\s*\[\[?\s*" + _dotted_pattern(table) + r"\s*\]\]?\s*(#.*)?$")
            found = self._headers[table] = [number for number, line in enumerate(self.lines) if header.match(line)]
        return found

    def line_of(self, table: str | None = None, key: str | None = None, occurrence: int = 0) -> int | None:
        """As the module-level `line_of`."""
        lines = self.lines
        start = 0
        if table is not None:
            headers = self.header_lines(table)
            if occurrence >= len(headers):
                return None
            start = headers[occurrence]
            if key is None:
                return start + 1
            start += 1
        if key is None:
            return None
        key_line = re.compile(r"^\s*(\"?)" + re.escape(key) + r"\1\s*(=|\.)")
        for number in range(start, len(lines)):
            line = lines[number]
            if number > start and table is not None and re.match(r"^\s*\[", line):
                break
            if key_line.match(line):
                return number + 1
        return None


def _dotted_pattern(dotted: str) -> str:
    """Regex for a dotted table name whose parts may be quoted and spaced."""
    parts = [r"[\"']?" + re.escape(part) + r"[\"']?" for part in dotted.split(".")]
    return r"\s*\.\s*".join(parts)


def location(path: Path, text: str, table: str | None = None, key: str | None = None, occurrence: int = 0) -> str:
    """`file:line` for a table/key when the line can be found, else just the file."""
    number = line_of(text, table, key, occurrence)
    return f"{path}:{number}" if number else str(path)
