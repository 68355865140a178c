"""OPML import and export of the feed list (`monitor feeds import FILE.opml`, `monitor feeds export`).

Import reads the subscription list other readers export (Feedly, Inoreader, Miniflux, NetNewsWire, Tiny Tiny
RSS...): every `<outline>` with an `xmlUrl` is a feed, named by its `text` (else `title`); the outlines around
it are its folders, kept as the feed's `category` ("News/Iraq"). New feeds are appended to monitor.toml as
`[[feeds]]` tables: text is appended, so the file's comments and layout stay as they are; feeds already
configured (same URL, http or https, trailing slash or not) are skipped; the result is validated before it
replaces the file atomically, and a file that cannot take the new tables is left untouched.
Export writes OPML 2.0 with one folder outline per category, feed URLs redacted unless asked otherwise.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from monitor.config import PlaceholderEnvironment, load_settings
from monitor.errors import ConfigError, SourceError
from monitor.model import FeedConfig
from monitor.redact import feed_display_name, redact_url

MAX_OPML_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class OpmlFeed:
    """One feed of an OPML subscription list."""

    url: str
    title: str
    category: str = ""  # the folders around it, "News/Iraq"
    html_url: str = ""


def parse_opml(data: bytes, source: str) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order; SourceError naming `source` if it is not OPML."""
    if len(data) > MAX_OPML_BYTES:
        raise SourceError(f"larger than {MAX_OPML_BYTES // 1024 // 1024} MB: not a subscription list", location=source)
    if b"<!ENTITY" in data:
        raise SourceError("declares XML entities, which an OPML file never needs: refused", location=source)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        line, column = error.position
        raise SourceError(f"not valid XML (column {column}): {error.msg}", location=f"{source}:{line}") from None
    if _local(root.tag) != "opml":
        raise SourceError(f"not an OPML file (the root element is <{_local(root.tag)}>)", location=source)
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise SourceError("OPML without a <body>", location=source)
    return list(_walk(body, []))


def _walk(parent: ET.Element, folders: list[str]) -> Iterator[OpmlFeed]:
    for outline in parent:
        if _local(outline.tag) != "outline":
            continue
        attributes = {key.lower(): value.strip() for key, value in outline.attrib.items()}
        label = attributes.get("text") or attributes.get("title") or ""
        url = attributes.get("xmlurl", "")
        if url:
            category = "/".join(folders)
            if not category and attributes.get("category"):
                # OPML 2.0's category attribute: comma-separated "/Folder/Sub" paths; the first one is used.
                category = attributes["category"].split(",")[0].strip().strip("/")
            yield OpmlFeed(
                url=url,
                title=" ".join(label.split()) or feed_display_name(url),
                category=category,
                html_url=attributes.get("htmlurl", ""),
            )
        yield from _walk(outline, [*folders, " ".join(label.replace("/", "-").split())] if label else folders)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def render_opml(feeds: Sequence[FeedConfig], *, title: str, now: datetime, with_credentials: bool = False) -> str:
    """OPML 2.0 of the feeds, one folder outline per category level, feeds in configuration order.

    Feed URLs are redacted (monitor.redact: user-info and secret parameters shown as ***) unless
    `with_credentials`, the explicit choice to write them as configured (to move a setup).
    """
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now.astimezone(UTC), usegmt=True)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for feed in feeds:
        path = tuple(part.strip() for part in feed.category.split("/") if part.strip())
        for depth in range(1, len(path) + 1):
            if path[:depth] not in folders:
                name = path[depth - 1]
                folders[path[:depth]] = ET.SubElement(folders[path[: depth - 1]], "outline", text=name, title=name)
        url = feed.url if with_credentials else redact_url(feed.url)
        ET.SubElement(folders[path], "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=url)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- import into monitor.toml ----------------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What importing an OPML file does to the configuration."""

    new: list[OpmlFeed] = field(default_factory=list)
    duplicates: list[OpmlFeed] = field(default_factory=list)  # configured already, or twice in the file
    invalid: list[tuple[OpmlFeed, str]] = field(default_factory=list)  # with the reason
    addition: str = ""  # the TOML text appended to the configuration file


def feed_key(url: str) -> str:
    """What makes two feed URLs the same feed: host (case-insensitive) and path without a trailing slash, query.

    http and https count as the same feed.
    """
    parts = urlsplit(url.strip())
    query = f"?{parts.query}" if parts.query else ""
    return f"{(parts.hostname or '').lower()}:{parts.port or ''}{parts.path.rstrip('/') or '/'}{query}"


def plan_import(
    found: Sequence[OpmlFeed], configured: Sequence[FeedConfig], *, source: str, now: datetime
) -> ImportPlan:
    """Sort the OPML's feeds into new, duplicate and invalid, and write the TOML for the new ones."""
    plan = ImportPlan()
    seen = {feed_key(feed.url) for feed in configured}
    for feed in found:
        url = feed.url
        if url.startswith("feed://"):
            url = "http://" + url[len("feed://") :]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            plan.invalid.append((feed, "not an http(s) URL"))
            continue
        if any(char.isspace() for char in url):
            plan.invalid.append((feed, "the URL contains spaces"))
            continue
        key = feed_key(url)
        if key in seen:
            plan.duplicates.append(feed)
            continue
        seen.add(key)
        plan.new.append(OpmlFeed(url=url, title=feed.title, category=feed.category, html_url=feed.html_url))
    if plan.new:
        lines = ["", f"# Imported from {source} on {now.astimezone(UTC):%Y-%m-%d}: {len(plan.new)} feeds."]
        for feed in plan.new:
            lines += ["", "[[feeds]]", f"name = {toml_string(feed.title)}", f"url = {toml_string(feed.url)}"]
            if feed.category:
                lines.append(f"category = {toml_string(feed.category)}")
        plan.addition = "\n".join(lines) + "\n"
    return plan


def toml_string(value: str) -> str:
    """`value` as a TOML basic string, every character TOML forbids raw escaped."""
    escaped = []
    for char in value:
        if char == '"':
            escaped.append('\\"')
        elif char == "\\":
            escaped.append("\\\\")
        elif char in "\b\t\n\f\r":
            escaped.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def append_to_config(path: Path, addition: str) -> None:
    """Append `addition` to the configuration file, validating the result first; atomic, keeps mode and owner.

    The new text is written to a temporary file next to the configuration (so relative paths resolve the
    same), loaded with the full validation, and only then renamed over the configuration. On any error the
    configuration is untouched and ConfigError says why.
    """
    target = path.resolve()  # write through a symlink, not over it
    original = target.read_text(encoding="utf-8")
    text = original if not original or original.endswith("\n") else original + "\n"
    text += addition
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".import", dir=target.parent)
    temporary_path = Path(temporary)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            load_settings(temporary_path, env=PlaceholderEnvironment())
        except ConfigError as error:
            message = error.one_line().replace(str(temporary_path), str(path))
            raise ConfigError(
                f"the feeds cannot be appended to {path}: {message}",
                hint="the file was not changed; use --dry-run to print the [[feeds]] tables and add them by hand",
            ) from None
        info = target.stat()
        os.chmod(temporary_path, info.st_mode & 0o7777)
        with contextlib.suppress(OSError):
            os.chown(temporary_path, info.st_uid, info.st_gid)
        os.replace(temporary_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary_path.unlink()
