"""Fetched bytes -> `Entry` list: feedparser on bytes (never on a URL), with a stable id for every entry.

Pure stage: takes the body and the response headers, returns data. The DOCTYPE is stripped before parsing
because feedparser's loose parser expands internal entities quadratically (see docs/design.md).
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.model import Entry

_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_MAX_ID_LENGTH = 512


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document: `version` is feedparser's format name, "" when the document is not a feed."""

    title: str
    version: str
    entries: tuple[Entry, ...]
    problem: str | None  # feedparser's complaint about malformed input, if any (entries are still recovered)

    @property
    def is_feed(self) -> bool:
        """True when the document was recognised as RSS or Atom (or gave entries anyway)."""
        return bool(self.version) or bool(self.entries)


def strip_doctype(body: bytes) -> bytes:
    """Remove a DOCTYPE (with its internal subset) from the prolog, leaving its entities unexpanded."""
    first = _FIRST_ELEMENT.search(body)
    prolog_end = first.start() if first else len(body)
    doctype = _DOCTYPE.search(body, 0, prolog_end + 1)
    if doctype is None or doctype.start() > prolog_end:
        return body
    return body[: doctype.start()] + body[doctype.end() :]


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    """Parse a feed body; relative links resolve against `url`, the charset comes from Content-Type."""
    response_headers = {name.lower(): value for name, value in headers.items()}
    response_headers["content-location"] = url
    parsed = feedparser.parse(strip_doctype(body), response_headers=response_headers)
    feed_title = _text(parsed.feed.get("title"))
    entries = tuple(_entry(raw, feed_title) for raw in parsed.entries)
    problem = None
    if parsed.get("bozo"):
        problem = str(parsed.get("bozo_exception") or "malformed feed").splitlines()[0][:200]
    return ParsedFeed(title=feed_title, version=parsed.get("version", "") or "", entries=entries, problem=problem)


def _entry(raw: Any, feed_title: str) -> Entry:
    title = _text(raw.get("title"))
    link = _text(raw.get("link")).strip()
    summary = _text(raw.get("summary"))
    content = "\n".join(_text(part.get("value")) for part in raw.get("content", []) or [])
    if content.strip() == summary.strip():
        content = ""
    return Entry(
        entry_id=stable_id(_text(raw.get("id")).strip(), link, title, summary + content),
        title=title,
        link=link,
        summary=summary,
        content=content,
        published=_published(raw),
        author=_text(raw.get("author")),
        feed_title=feed_title,
    )


def stable_id(guid: str, link: str, title: str, body: str) -> str:
    """The entry's id: its guid, else its link, else a hash of its title and content."""
    if guid:
        return guid[:_MAX_ID_LENGTH]
    if link:
        return link[:_MAX_ID_LENGTH]
    digest = hashlib.sha256(f"{title}\x00{body}".encode(errors="replace")).hexdigest()
    return f"sha256:{digest[:32]}"


def _published(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
