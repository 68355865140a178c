"""Render an `Alert` into the forms targets need: a subject line, plain text, HTML and Slack mrkdwn.

Pure: takes an `Alert` (and the display time zone) and returns a `Message`; no I/O, no apprise. `notify`
picks the form a target wants. Everything that came from a feed (title, summary, link, feed name, matched
text) is untrusted: tags and control characters are stripped from it, it is HTML-escaped in `html` and
Slack-escaped in `markdown`, and links are only ever emitted for http(s) URLs (`safe_link`).

Highlighting: `Hit.start`/`end` for the title are offsets into the original `Alert.title`; summary hits are
trusted only when they fit the tag-stripped summary (`html_to_text`). Whenever offsets do not fit (another
stripping, a different text), the hit's text is searched for instead (whole words), so a bad offset can
never mark or cut the wrong characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

from monitor.model import Alert, Hit

TITLE_MAX = 250
SUMMARY_MAX = 400
MATCH_TEXT_MAX = 80
LINK_TEXT_MAX = 300
ELLIPSIS = "…"

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embedding/override/isolate marks: dropped so a headline cannot reorder the text around it."""

_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"}
    | {"footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"}
    | {"section", "table", "td", "th", "tr", "ul"}
)
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})


@dataclass(frozen=True)
class Message:
    """One alert rendered for every kind of target."""

    title: str  # one line "[high] kataib-hezbollah: <headline>": no tags, no control chars, <= 250 chars
    text: str  # plain text body
    html: str  # HTML body: feed strings escaped, links http(s) only, matched names in <mark>
    markdown: str  # Slack mrkdwn: <url|text> links, & < > escaped, no raw HTML


def render_alert(alert: Alert, *, tz: tzinfo = UTC) -> Message:
    """Render `alert` for display; times are shown in `tz`."""
    plain_title = html_to_text(alert.title)  # feedparser returns titles unescaped: markup may be in them
    headline = _clean(plain_title) or "(no title)"
    title_ranges = _ranges_for(alert.hits, "title", plain_title, headline)

    plain_summary = html_to_text(alert.summary)
    full_summary = _clean(plain_summary)
    summary = cut_at_word(full_summary, SUMMARY_MAX)
    summary_ranges = _ranges_for(alert.hits, "summary", plain_summary, summary)

    link = safe_link(alert.link)
    raw_link = cut_at_word(_clean(alert.link), LINK_TEXT_MAX)
    source = _clean(html_to_text(alert.feed_name)) or "unknown feed"
    when = format_time(alert.published, tz)
    rule = _clean(alert.rule)
    severity = _clean(alert.severity)
    matches = match_lines(alert)

    first_line = f"[{severity}] {rule}: {headline}"
    view = _View(
        headline, title_ranges, summary, summary_ranges, link, raw_link, source, when, rule, severity
    )
    return Message(
        title=cut_at_word(first_line, TITLE_MAX),
        text=_render_text(first_line, view, matches),
        html=_render_html(view, matches),
        markdown=_render_markdown(view, matches),
    )


def safe_link(url: str) -> str | None:
    """`url` if it is an absolute http(s) URL with a host, else None (javascript:, data:, relative, junk).

    Tabs and newlines are removed as browsers do (so "java\\nscript:" cannot sneak through); other spaces and
    control characters are percent-encoded.
    """
    cleaned = re.sub(r"[\t\r\n]", "", url).strip()
    cleaned = "".join(quote(c) if ord(c) <= 0x20 or ord(c) == 0x7F else c for c in cleaned)
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # e.g. an invalid IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return cleaned


def format_time(moment: datetime | None, tz: tzinfo = UTC) -> str:
    """`moment` as "2026-11-24 19:05 UTC" in `tz`; "time unknown" for None. Naive times are taken as UTC."""
    if moment is None:
        return "time unknown"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"


def match_lines(alert: Alert) -> list[str]:
    """One line per distinct hit: `"<matched text>" ~ <alias> (<field>, exact|fuzzy NN)`."""
    lines: list[str] = []
    for hit in alert.hits:
        quality = "exact" if hit.score >= 100 else f"fuzzy {round(hit.score)}"
        text = cut_at_word(_clean(hit.text), MATCH_TEXT_MAX)
        lines.append(f'"{text}" ~ {_clean(hit.alias)} ({_clean(hit.field)}, {quality})')
    if not lines:
        lines = [f'"{cut_at_word(_clean(text), MATCH_TEXT_MAX)}"' for text in alert.matched]
    return list(dict.fromkeys(lines))


def html_to_text(markup: str) -> str:
    """The text of an HTML fragment: tags dropped (script/style content too), entities decoded.

    Block-level tags become line breaks; whitespace is otherwise left as is (callers collapse it).
    """
    if "<" not in markup and "&" not in markup:
        return markup
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def cut_at_word(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with "…" when something was cut."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    boundary = head.rfind(" ")
    if boundary >= limit // 2:  # a very long word: cut inside it rather than lose most of the text
        head = head[:boundary]
    return head.rstrip(" ,;:-–—") + ELLIPSIS


# --- internals ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    """The cleaned, display-ready parts of an alert, shared by the three renderers."""

    headline: str
    headline_marks: list[tuple[int, int]]
    summary: str
    summary_marks: list[tuple[int, int]]
    link: str | None
    raw_link: str
    source: str
    when: str
    rule: str
    severity: str


class _TextExtractor(HTMLParser):
    """Collects the character data of an HTML fragment, skipping non-content elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _is_dropped(char: str) -> bool:
    """Control characters (other than whitespace, which is collapsed) and bidi overrides are dropped."""
    return char in _BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and not char.isspace())


def _clean_with_map(text: str) -> tuple[str, list[int]]:
    """`text` on one line (controls dropped, whitespace runs -> one space, trimmed) + each char's index."""
    out: list[str] = []
    positions: list[int] = []
    pending_space = -1
    for index, char in enumerate(text):
        if char.isspace():
            if out and pending_space < 0:
                pending_space = index
            continue
        if _is_dropped(char):
            continue
        if pending_space >= 0:
            out.append(" ")
            positions.append(pending_space)
            pending_space = -1
        out.append(char)
        positions.append(index)
    return "".join(out), positions


def _clean(text: str) -> str:
    """`text` on one line, without control characters, whitespace collapsed."""
    return _clean_with_map(text)[0]


def _ranges_for(hits: Iterable[Hit], field: str, source: str, shown: str) -> list[tuple[int, int]]:
    """Character ranges of `shown` (the cleaned, possibly cut, `source`) to highlight for hits in `field`."""
    cleaned, positions = _clean_with_map(source)
    ranges: list[tuple[int, int]] = []
    for hit in hits:
        if hit.field != field or not hit.text.strip():
            continue
        mapped = _map_offsets(hit, source, positions)
        if mapped is not None and cleaned[mapped[0] : mapped[1]] == shown[mapped[0] : mapped[1]]:
            ranges.append(mapped)
            continue
        ranges.extend(_search(_clean(hit.text), shown))
    return _merge(ranges, len(shown))


def _search(needle: str, text: str) -> list[tuple[int, int]]:
    """Whole-word occurrences of `needle` in `text`: exact case first, else ignoring case."""
    pattern = rf"(?<!\w){re.escape(needle)}(?!\w)"
    for flags in (0, re.IGNORECASE):
        found = [(m.start(), m.end()) for m in re.finditer(pattern, text, flags)]
        if found:
            return found
    return []


def _map_offsets(hit: Hit, source: str, positions: Sequence[int]) -> tuple[int, int] | None:
    """The hit's [start, end) in the cleaned text, or None when its offsets do not fit `source`."""
    if not 0 <= hit.start < hit.end <= len(source) or source[hit.start : hit.end] != hit.text:
        return None
    inside = [i for i, original in enumerate(positions) if hit.start <= original < hit.end]
    if not inside:
        return None
    return inside[0], inside[-1] + 1


def _merge(ranges: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ranges clipped to `length`, empty ones dropped."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(length, e)) for s, e in ranges):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _html_marked(text: str, ranges: Sequence[tuple[int, int]]) -> str:
    """`text` HTML-escaped with each range wrapped in <mark>."""
    out: list[str] = []
    position = 0
    for start, end in ranges:
        out.append(escape(text[position:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def _slack_escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn reserves for links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_url(url: str) -> str:
    """A URL made safe inside Slack's <url|text>: "|" and angle brackets percent-encoded, & escaped."""
    return _slack_escape(url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E"))


def _render_text(first_line: str, view: _View, matches: Sequence[str]) -> str:
    lines = [
        first_line,
        f"Source: {view.source}",
        f"Published: {view.when}",
        f"Rule: {view.rule} (severity {view.severity})",
        "Matched:",
        *(f"  - {line}" for line in matches),
    ]
    if view.summary:
        lines += ["", view.summary]
    lines += ["", f"Link: {view.link}" if view.link else _unlinked(view.raw_link)]
    return "\n".join(lines) + "\n"


def _unlinked(raw_link: str) -> str:
    return f"Link (not a web link, not opened): {raw_link}" if raw_link else "Link: none"


def _render_html(view: _View, matches: Sequence[str]) -> str:
    headline = _html_marked(view.headline, view.headline_marks)
    if view.link:
        headline = f'<a href="{escape(view.link, quote=True)}">{headline}</a>'
    parts = [
        '<div style="font-family: sans-serif; line-height: 1.4">',
        f"<p><strong>[{escape(view.severity)}]</strong> rule {escape(view.rule)}</p>",
        f'<h2 dir="auto" style="font-size: 1.2em; margin: 0.4em 0">{headline}</h2>',
        f"<p>Source: {escape(view.source)}<br/>Published: {escape(view.when)}</p>",
    ]
    if view.summary:
        parts.append(f'<p dir="auto">{_html_marked(view.summary, view.summary_marks)}</p>')
    parts.append("<p>Matched:</p>")
    parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in matches) + "</ul>")
    if view.link:
        link = escape(view.link, quote=True)
        parts.append(f'<p>Link: <a href="{link}">{escape(view.link)}</a></p>')
    elif view.raw_link:
        parts.append(f"<p>Link (not a web link, not opened): {escape(view.raw_link)}</p>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def _render_markdown(view: _View, matches: Sequence[str]) -> str:
    headline = _slack_escape(view.headline)
    if view.link:
        headline = f"<{_slack_url(view.link)}|{headline}>"
    lines = [
        f"*[{_slack_escape(view.severity)}] {_slack_escape(view.rule)}*",
        f"*{headline}*",
        f"Source: {_slack_escape(view.source)} · {_slack_escape(view.when)}",
    ]
    if view.summary:
        lines.append(f">{_slack_escape(view.summary)}")
    lines.append("Matched:")
    lines.extend(f"• {_slack_escape(line)}" for line in matches)
    if view.link:
        lines.append(f"<{_slack_url(view.link)}>")
    elif view.raw_link:
        lines.append(f"Link (not a web link, not opened): {_slack_escape(view.raw_link)}")
    return "\n".join(lines) + "\n"
