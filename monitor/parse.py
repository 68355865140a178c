"""Fetched bytes -> `Entry` list: feedparser on bytes (never on a URL), with a stable id for every entry.

Pure stage: takes the body and the response headers, returns data. Before feedparser sees a body, `prepare`
makes it safe to parse in bounded time and memory (docs/robustness.md has the measurements):

- UTF-16 and UTF-32 bodies (by byte-order mark or by the byte pattern of "<?xml") are re-encoded as UTF-8, so
  the byte-level defences below see their markup; the declared encoding and a Content-Type charset are fixed to
  match;
- the DOCTYPE is stripped and every `<!ENTITY` declaration removed: feedparser's loose parser expands
  "safe-looking" internal entities quadratically (a 70 KB feed became a 200-million-character title);
- numeric character references to surrogates, NUL or beyond U+10FFFF become U+FFFD (feedparser's loose parser
  crashes on `&#xD800;`);
- feedparser costs about 60-150 microseconds per tag, markup escaped inside descriptions included, so a 10 MB
  body of tags would hold a worker thread for minutes: a document with more than MARKUP_BUDGET tags, or more
  than MAX_ENTRIES items, is cut down to whole items taken from both ends (newest first or oldest first, the
  newest survive); an item with more than MAX_ITEM_MARKUP tags is dropped, and past MAX_ENTRIES parsed entries
  the middle ones go too. `ParsedFeed.dropped` counts what was left out;
- the regular expressions run on the raw body are anchored, bounded or possessive: hostile repetitions
  ("<!DOCTYPE a [" a million times) cost linear time, not quadratic.

feedparser's HTML sanitiser and relative-link resolver are off: they re-parse every summary and content and
cost half of its time (100 ms -> 47 ms for a 100 KB feed, benchmarks/results/cycles.md), and it is not told the
document's URL (content-location), which makes it resolve every element against it: entry links are resolved
here instead. Entry summary and
content are therefore the feed's markup as published: untrusted HTML, never output as HTML. Matching reads
them through `normalize.strip_html` and alerts through `render.html_to_text`, which drop scripts and styles,
drop every tag and escape the text (stricter than a sanitiser, which keeps safe tags).

Entry text is cut to MAX_TITLE_CHARS / MAX_TEXT_CHARS before anyone matches or stores it. A page that is not a
feed reports the feeds it links to (`feed_links`, HTML autodiscovery).
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from monitor.model import Entry
from monitor.normalize import strip_html

MAX_ENTRIES = 1_000
"""Items parsed from one document a feed serves at most; beyond it, the first and last MAX_ENTRIES / 2 are kept."""
MARKUP_BUDGET = 50_000
"""Tags ("<" and escaped "&lt;") in one document before it is cut down to whole items (about 3-7 s of parsing)."""


@dataclass(frozen=True)
class ParseLimits:
    """How much of one document is parsed: items at most, and tags before it is cut down to whole items."""

    max_entries: int
    markup_budget: int


FEED_LIMITS = ParseLimits(MAX_ENTRIES, MARKUP_BUDGET)
"""What a polled feed gets: a feed is hostile input, and a poll must end in seconds."""
FILE_LIMITS = ParseLimits(10_000, 200_000)
"""What a file given to `monitor match` on purpose gets (a saved archive of thousands of headlines): ten
times the items and four times the tags of a feed, so its parse still ends in about 15 s at worst."""
MAX_ITEM_MARKUP = 5_000
"""Tags in one item beyond which the item is dropped as hostile (a long article has a few hundred)."""
MAX_TITLE_CHARS = 1_000
"""Entry titles are cut to this many characters."""
MAX_TEXT_CHARS = 20_000
"""Entry summary and content are each cut to this many characters (under the store's 64 KiB in UTF-8)."""

# A DOCTYPE: its name and external id (quoted strings may hold ">"), then an optional internal subset whose
# quoted strings may hold "]" or ">". Possessive: matched at one position, it never backtracks.
_DOCTYPE = re.compile(
    rb"""<!DOCTYPE(?:[^\[>"']++|"[^"]*+"|'[^']*+')*+(?:\[(?:[^\]"']++|"[^"]*+"|'[^']*+')*+\]\s*+)?>""",
    re.IGNORECASE,
)
_SPACE = re.compile(rb"[ \t\r\n]+")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY\b[^>]*>?")
_XML_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_CHARSET_PARAM = re.compile(r";\s*charset\s*=\s*[\"']?[^;\"']*[\"']?", re.IGNORECASE)
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,24}));")
# An item: its start tag, then anything but another item tag (possessive: linear time), then its end tag.
# Start tags are bounded and cannot contain "<", so a flood of unclosed "<item " costs linear time too.
_ITEM = re.compile(
    rb"<((?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?=[\s>])[^<>]{0,4096}(?<!/)>"
    rb"(?:[^<]++|<(?!/?(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]))*+"
    rb"</\1\s*>"
)
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FEED_LINK = re.compile(rb"<link\b[^<>]{0,4096}>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml"})
_MAX_ID_LENGTH = 512
_REPLACEMENT_REF = b"&#xFFFD;"

# Byte-order marks and, without one, the bytes "<?" (or "<" and a name character) in each wide encoding.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_WIDE_PATTERNS = (
    (re.compile(rb"\x00\x00\x00<\x00\x00\x00[^\x00]"), "utf-32-be"),
    (re.compile(rb"<\x00\x00\x00[^\x00]\x00\x00\x00"), "utf-32-le"),
    (re.compile(rb"(?:\x00[\t\n\r ])*\x00<\x00[^\x00]"), "utf-16-be"),
    (re.compile(rb"(?:[\t\n\r ]\x00)*<\x00[^\x00]\x00"), "utf-16-le"),
)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document: `version` is feedparser's format name, "" when the document is not a feed."""

    title: str
    version: str
    entries: tuple[Entry, ...]
    problem: str | None  # feedparser's complaint about malformed input, if any (entries are still recovered)
    dropped: int = 0  # items left out to keep within MAX_ENTRIES / MARKUP_BUDGET / MAX_ITEM_MARKUP
    feed_links: tuple[str, ...] = ()  # feeds an HTML page links to (only when it is not a feed itself)

    @property
    def is_feed(self) -> bool:
        """True when the document was recognised as RSS or Atom (or gave entries anyway)."""
        return bool(self.version) or bool(self.entries)


def strip_doctype(body: bytes) -> bytes:
    """Remove every DOCTYPE (with its internal subset) from the prolog, leaving its entities unexpanded.

    One pass over the prolog's tokens (XML declaration, processing instructions, comments, DOCTYPEs, space):
    linear however many DOCTYPEs there are. A prolog it cannot read is left as it is (the `<!ENTITY` removal
    in `prepare` still applies).
    """
    pieces: list[bytes] = []
    position = kept_from = 0
    if body.startswith(codecs.BOM_UTF8):
        position = len(codecs.BOM_UTF8)
    while True:
        space = _SPACE.match(body, position)
        if space:
            position = space.end()
        if body.startswith(b"<?", position):
            end = body.find(b"?>", position)
            if end < 0:
                break
            position = end + 2
        elif body.startswith(b"<!--", position):
            end = body.find(b"-->", position)
            if end < 0:
                break
            position = end + 3
        elif (doctype := _DOCTYPE.match(body, position)) is not None:
            pieces.append(body[kept_from:position])
            position = kept_from = doctype.end()
        else:
            break
    if not pieces:
        return body
    pieces.append(body[kept_from:])
    return b"".join(pieces)


def prepare(
    body: bytes, headers: Mapping[str, str], *, limits: ParseLimits = FEED_LIMITS
) -> tuple[bytes, dict[str, str], int]:
    """The body and headers feedparser is given, and how many items were dropped (see the module docstring)."""
    response_headers = {name.lower(): value for name, value in headers.items()}
    body, response_headers = _wide_to_utf8(body, response_headers)
    body = strip_doctype(body)
    if b"<!ENTITY" in body:
        body = _ENTITY_DECLARATION.sub(b"", body)
    if b"&#" in body:
        body = _CHARREF.sub(_safe_charref, body)
    body, dropped = reduce_markup(body, limits)
    return body, response_headers, dropped


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str], limits: ParseLimits = FEED_LIMITS) -> ParsedFeed:
    """Parse a feed body; relative links resolve against `url`, the charset comes from Content-Type.

    Never raises: a document feedparser cannot handle at all comes back as "not a feed" with the reason.
    """
    prepared, response_headers, dropped = prepare(body, headers, limits=limits)
    # No content-location: feedparser would resolve every element against it (a third of its time); the one
    # URL that needs resolving, an entry's link, is resolved in _entry.
    try:
        parsed = feedparser.parse(
            prepared, response_headers=response_headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as error:  # a parser bug on hostile input must not take the feed's poll down
        failure = f"the feed parser failed: {type(error).__name__}: {error}"
        return ParsedFeed(title="", version="", entries=(), problem=failure[:200], dropped=dropped)
    feed_title = _plain(parsed.feed, "title")[:MAX_TITLE_CHARS]
    raw_entries = parsed.entries
    if len(raw_entries) > limits.max_entries:  # unclosed items the loose parser turned into entries
        half = limits.max_entries // 2
        dropped += len(raw_entries) - 2 * half
        raw_entries = raw_entries[:half] + raw_entries[-half:]
    entries = tuple(_entry(raw, feed_title, url) for raw in raw_entries)
    problem: str | None = None
    if parsed.get("bozo"):
        problem = str(parsed.get("bozo_exception") or "malformed feed").splitlines()[0][:200]
    version = parsed.get("version", "") or ""
    links = () if version or entries else discover_feed_links(prepared, url)
    return ParsedFeed(
        title=feed_title, version=version, entries=entries, problem=problem, dropped=dropped, feed_links=links
    )


def discover_feed_links(page: bytes, base_url: str) -> tuple[str, ...]:
    """The feeds an HTML page announces with <link rel="alternate" type="application/rss+xml" href=...>."""
    found: list[str] = []
    for tag in _FEED_LINK.finditer(page, 0, 512 * 1024):
        attributes = {
            name.lower(): unescape(first or second or third)
            for name, first, second, third in _ATTRIBUTE.findall(tag.group().decode("utf-8", "replace"))
        }
        rel = attributes.get("rel", "").lower().split()
        kind = attributes.get("type", "").lower().split(";")[0].strip()
        href = attributes.get("href", "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            # Relative to a page fetched over HTTP it resolves; relative to a file it is shown as written.
            over_http = base_url.startswith(("http://", "https://"))
            link = urljoin(base_url, href) if over_http else href
            scheme = urlsplit(link).scheme
            if (scheme in ("http", "https") or (not scheme and not over_http)) and link not in found:
                found.append(link)
    return tuple(found[:5])


def reduce_markup(body: bytes, limits: ParseLimits = FEED_LIMITS) -> tuple[bytes, int]:
    """Cut a document with too many tags or items down to whole items; returns it and the items dropped.

    Items are taken alternately from the start and the end of the document (so the newest survive whichever
    order the feed uses) while they fit in MAX_ENTRIES and MARKUP_BUDGET; hostile items over MAX_ITEM_MARKUP go.
    Markup before the first item that alone exceeds MAX_ITEM_MARKUP loses its middle, and markup after the last
    item keeps only its end (feedparser's loose parser copes with the unbalanced tags left). Linear time.
    """
    markup = _markup(body)
    item_starts = body.count(b"<item") + body.count(b"<entry") + body.count(b":item") + body.count(b":entry")
    if markup <= limits.markup_budget and item_starts <= limits.max_entries:
        return body, 0
    first, last, total = _item_spans(body, limits.max_entries)
    if not total:
        return _cut_after_markup(body, limits.markup_budget), 0
    spans = first + [span for span in last if span[0] > first[-1][0]]
    head, tail = body[: spans[0][0]], body[spans[-1][1] :]
    head, tail = _trim_middle(head, MAX_ITEM_MARKUP), _keep_end(tail, MAX_ITEM_MARKUP // 2)
    budget = limits.markup_budget - _markup(head) - _markup(tail)
    order = [index for pair in zip(range(len(spans)), reversed(range(len(spans))), strict=True) for index in pair]
    kept: set[int] = set()
    for index in order:
        if len(kept) >= limits.max_entries or index in kept:
            continue
        start, end = spans[index]
        cost = _markup(body, start, end)
        if cost > MAX_ITEM_MARKUP or cost > budget:
            continue
        kept.add(index)
        budget -= cost
    items = [body[spans[index][0] : spans[index][1]] for index in sorted(kept)]
    return head + b"\n".join(items) + tail, total - len(kept)


def _item_spans(body: bytes, keep: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """The first `keep` and last `keep` item spans (start, end) of `body`, and how many items it has.

    An item is a start tag, anything but another item tag, and its end tag: an unclosed item is skipped.
    """
    first: list[tuple[int, int]] = []
    last: deque[tuple[int, int]] = deque(maxlen=keep)
    total = 0
    for item in _ITEM.finditer(body):
        total += 1
        if len(first) < keep:
            first.append(item.span())
        else:
            last.append(item.span())
    return first, list(last), total


def _markup(body: bytes, start: int = 0, end: int | None = None) -> int:
    """Tags and escaped tags in body[start:end]: what feedparser's time grows with."""
    end = len(body) if end is None else end
    return body.count(b"<", start, end) + body.count(b"&lt;", start, end)


def _trim_middle(part: bytes, budget: int) -> bytes:
    """`part` with its middle cut out when it holds more than `budget` tags: the first and last budget / 2 stay
    (the root and channel start tags before the items, their end tags after them, wherever junk sits)."""
    if _markup(part) <= budget:
        return part
    half = budget // 2
    start = len(_cut_after_markup(part, half))
    end = len(part)
    for _ in range(half):
        end = part.rfind(b"<", 0, end)
        if end <= start:
            return part[:start]
    return part[:start] + b"\n" + part[end:]


def _keep_end(part: bytes, budget: int) -> bytes:
    """The end of `part` from its `budget`-th last "<" (all of it when it has fewer)."""
    end = len(part)
    for _ in range(budget):
        end = part.rfind(b"<", 0, end)
        if end < 0:
            return part
    return part[end:]


def _cut_after_markup(body: bytes, budget: int) -> bytes:
    """`body` cut just before its `budget`-th "<"."""
    position = -1
    for _ in range(budget):
        position = body.find(b"<", position + 1)
        if position < 0:
            return body
    return body[:position]


def _wide_to_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """UTF-16/32 bodies re-encoded as UTF-8 (declaration and charset fixed); other bodies unchanged.

    A Content-Type charset naming a wide encoding is dropped when the bytes are not wide: the bytes win.
    """
    encoding: str | None = None
    for bom, name in _BOMS:
        if body.startswith(bom):
            encoding, body = name, body[len(bom) :]
            break
    else:
        for pattern, name in _WIDE_PATTERNS:
            if pattern.match(body):
                encoding = name
                break
    content_type = headers.get("content-type", "")
    if encoding is None:
        charset = _CHARSET_PARAM.search(content_type)
        if charset and re.search(r"utf-?(16|32)|ucs-?[24]", charset.group(), re.IGNORECASE):
            headers = {**headers, "content-type": _CHARSET_PARAM.sub("", content_type)}
        return body, headers
    text = body.decode(encoding, "replace").encode("utf-8")
    text = _XML_ENCODING.sub(rb'\1"utf-8"', text, count=1)
    if content_type:
        headers = {**headers, "content-type": _CHARSET_PARAM.sub("", content_type) + "; charset=utf-8"}
    return text, headers


def _safe_charref(found: re.Match[bytes]) -> bytes:
    """A numeric character reference, or U+FFFD when it names no valid XML character."""
    hexadecimal, decimal = found.groups()
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return _REPLACEMENT_REF
    return found.group()


def _entry(raw: Any, feed_title: str, base_url: str) -> Entry:
    title = _plain(raw, "title")[:MAX_TITLE_CHARS]
    link = _text(raw.get("link")).strip()
    if link and not _ABSOLUTE.match(link):
        link = urljoin(base_url, link)  # a relative link ("/news/1"), resolved against the feed's URL
    summary = _text(raw.get("summary"))[:MAX_TEXT_CHARS]
    content = "\n".join(_text(part.get("value")) for part in raw.get("content", []) or [])[:MAX_TEXT_CHARS]
    if content.strip() == summary.strip():
        content = ""
    return Entry(
        entry_id=stable_id(_text(raw.get("id")).strip(), link, title, summary + content),
        title=title,
        link=link,
        summary=summary,
        content=content,
        published=_published(raw),
        author=_text(raw.get("author"))[:MAX_TITLE_CHARS],
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


def _plain(raw: Any, key: str) -> str:
    """A title as plain text. feedparser leaves HTML in a title it judged to be HTML (an Atom type="html" one, or
    an RSS one with tags or entities, often escaped twice: "Kata&#39;ib", "W &amp; Co", "<b>"); everything
    downstream (matching, alerts, search) takes titles as text, so tags go and entities are decoded here."""
    value = _text(raw.get(key))
    detail = raw.get(f"{key}_detail")
    if value and isinstance(detail, Mapping) and detail.get("type") in _HTML_TYPES:
        value = " ".join(strip_html(value).split())
    return value


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
