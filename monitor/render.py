"""Render an `Alert` into the forms targets need: a subject line, plain text, HTML and Slack mrkdwn.

Pure: takes an `Alert` (and the display time zone) and returns a `Message`; no I/O, no apprise. `notify`
picks the form a target wants. Everything that came from a feed (title, summary, link, feed name, matched
text) is untrusted: tags and control characters are stripped from it, it is HTML-escaped in `html` and
Slack-escaped in `markdown`, and links are only ever emitted for http(s) URLs (`safe_link`).

Highlighting: `Hit.start`/`end` for the title are offsets into the original `Alert.title`; summary hits are
trusted only when they fit the tag-stripped summary (`html_to_text`). Whenever offsets do not fit (another
stripping, a different text), the hit's text is searched for instead (whole words), so a bad offset can
never mark or cut the wrong characters.

Digests (`render_digest`) list many alerts in one message, grouped by rule (most severe first) and, inside a
rule, by story: a story's later alerts are listed under its first as updates, and the other outlets that
reported it are named ("Also reported by: ...").

User templates (`Templates`, read by monitor.templates from the configured `templates` directory) replace the
built-in layout of any form with a `string.Template` text: `$name` placeholders (TEMPLATE_FIELDS lists them)
receive values already escaped for that form (HTML-escaped in .html, Slack-escaped in .slack, one line in
.subject and .txt values), so feed text cannot inject markup through a template.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

from monitor.model import Alert, Hit, StoryReport, severity_rank

TITLE_MAX = 250
SUMMARY_MAX = 400
MATCH_TEXT_MAX = 80
LINK_TEXT_MAX = 300
DIGEST_SUMMARY_MAX = 160
SOURCES_SHOWN = 8
ELLIPSIS = "…"
UPDATE_NOTE = "Update: a later report of a story this rule already alerted on."

_ALERT_FIELDS = frozenset(
    {"subject", "severity", "rule", "alert_id", "headline", "title", "link", "source", "published", "summary"}
    | {"matched", "also_reported", "update"}
)
_DIGEST_FIELDS = frozenset({"subject", "severity", "count", "rules", "period", "notices", "items"})
TEMPLATE_FIELDS: Mapping[str, frozenset[str]] = {
    f"{kind}.{form}": fields
    for kind, fields in (("alert", _ALERT_FIELDS), ("digest", _DIGEST_FIELDS))
    for form in ("subject", "txt", "html", "slack")
}
"""Template file names a `templates` directory may hold, and the placeholders each may use."""

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


@dataclass(frozen=True)
class Templates:
    """User templates by file name ("alert.html", "digest.txt", ...; see TEMPLATE_FIELDS); none: built-in."""

    files: Mapping[str, str] = field(default_factory=dict)

    def fill(self, name: str, values: Mapping[str, str], built_in: str) -> str:
        """The template `name` filled with `values`, or `built_in` when the user gave no such template."""
        text = self.files.get(name)
        if text is None:
            return built_in
        return string.Template(text).safe_substitute(values)


NO_TEMPLATES = Templates()


def render_alert(alert: Alert, *, tz: tzinfo = UTC, templates: Templates = NO_TEMPLATES) -> Message:
    """Render `alert` for display; times are shown in `tz`; user `templates` override the layout."""
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

    first_line = f"[{severity}] {rule}{' (update)' if alert.update else ''}: {headline}"
    view = _View(
        headline,
        title_ranges,
        summary,
        summary_ranges,
        link,
        raw_link,
        source,
        when,
        rule,
        severity,
        _other_reports(alert.also_reported, {source}),
        alert.update,
    )
    subject = cut_at_word(first_line, TITLE_MAX)
    text, html, markdown = (
        _render_text(first_line, view, matches),
        _render_html(view, matches),
        _render_markdown(view, matches),
    )
    if not templates.files:
        return Message(title=subject, text=text, html=html, markdown=markdown)
    plain = _alert_values(alert.alert_id, subject, view, matches, "text")
    return Message(
        title=_subject(templates.fill("alert.subject", plain, subject)),
        text=templates.fill("alert.txt", plain, text),
        html=templates.fill("alert.html", _alert_values(alert.alert_id, subject, view, matches, "html"), html),
        markdown=templates.fill(
            "alert.slack", _alert_values(alert.alert_id, subject, view, matches, "slack"), markdown
        ),
    )


def render_digest(
    alerts: Sequence[Alert],
    *,
    tz: tzinfo = UTC,
    notices: Sequence[str] = (),
    templates: Templates = NO_TEMPLATES,
) -> Message:
    """Render many alerts as one digest message: grouped by rule (most severe first), then by story.

    `notices` are plain-text lines shown first (why the alerts were held: digest schedule, quiet hours,
    storm control). Raises ValueError for no alerts: an empty digest is never sent.
    """
    if not alerts:
        raise ValueError("an empty digest is not rendered")
    groups = _digest_groups(alerts, tz)
    top = _clean(max((alert.severity for alert in alerts), key=severity_rank))
    rules = list(dict.fromkeys(group.rule for group in groups))
    count = f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    shown = ", ".join(rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else "")
    subject = cut_at_word(f"[{top}] digest: {count} for {shown}", TITLE_MAX)
    created = [alert.created_at for alert in alerts if alert.created_at is not None]
    period = f"{format_time(min(created), tz)} to {format_time(max(created), tz)}" if created else ""
    lines = tuple(line for line in (_clean(notice) for notice in notices) if line)
    view = _DigestView(subject, top, count, tuple(rules), period, lines, groups)
    text, html, markdown = _digest_text(view), _digest_html(view), _digest_markdown(view)
    if not templates.files:
        return Message(title=subject, text=text, html=html, markdown=markdown)
    return Message(
        title=_subject(templates.fill("digest.subject", _digest_values(view, "text"), subject)),
        text=templates.fill("digest.txt", _digest_values(view, "text"), text),
        html=templates.fill("digest.html", _digest_values(view, "html"), html),
        markdown=templates.fill("digest.slack", _digest_values(view, "slack"), markdown),
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
        if hit.kind == "story":  # a `similar` rule: how close the item reads to the story's article
            lines.append(f'close to the story "{_clean(hit.alias)}": {_clean(hit.text)}')
            continue
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
    also_reported: tuple[tuple[str, str | None], ...] = ()  # (source, safe link) of other outlets' reports
    update: bool = False


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
    ]
    if view.update:
        lines.append(UPDATE_NOTE)
    if view.also_reported:
        lines.append(f"Also reported by: {_sources_text(view.also_reported)}")
    lines += ["Matched:", *(f"  - {line}" for line in matches)]
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
    if view.update:
        parts.append(f"<p><em>{escape(UPDATE_NOTE)}</em></p>")
    if view.also_reported:
        parts.append(f"<p>Also reported by: {_sources_html(view.also_reported)}</p>")
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
    if view.update:
        lines.append(f"_{_slack_escape(UPDATE_NOTE)}_")
    if view.also_reported:
        lines.append(f"Also reported by: {_sources_slack(view.also_reported)}")
    if view.summary:
        lines.append(f">{_slack_escape(view.summary)}")
    lines.append("Matched:")
    lines.extend(f"• {_slack_escape(line)}" for line in matches)
    if view.link:
        lines.append(f"<{_slack_url(view.link)}>")
    elif view.raw_link:
        lines.append(f"Link (not a web link, not opened): {_slack_escape(view.raw_link)}")
    return "\n".join(lines) + "\n"


# --- other reports of a story ------------------------------------------------------------------------------


def _other_reports(reports: Iterable[StoryReport], exclude: set[str]) -> tuple[tuple[str, str | None], ...]:
    """(source, safe link) per other outlet, once each, without the sources in `exclude`."""
    seen = set(exclude)
    out: list[tuple[str, str | None]] = []
    for report in reports:
        source = _clean(html_to_text(report.source)) or "unknown feed"
        if source in seen:
            continue
        seen.add(source)
        out.append((source, safe_link(report.link)))
    return tuple(out)


def _more(reports: Sequence[tuple[str, str | None]]) -> str:
    return f" and {len(reports) - SOURCES_SHOWN} more" if len(reports) > SOURCES_SHOWN else ""


def _sources_text(reports: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(source for source, _ in reports[:SOURCES_SHOWN]) + _more(reports)


def _sources_html(reports: Sequence[tuple[str, str | None]]) -> str:
    shown = [
        f'<a href="{escape(link, quote=True)}">{escape(source)}</a>' if link else escape(source)
        for source, link in reports[:SOURCES_SHOWN]
    ]
    return ", ".join(shown) + escape(_more(reports))


def _sources_slack(reports: Sequence[tuple[str, str | None]]) -> str:
    shown = [
        f"<{_slack_url(link)}|{_slack_escape(source)}>" if link else _slack_escape(source)
        for source, link in reports[:SOURCES_SHOWN]
    ]
    return ", ".join(shown) + _more(reports)


# --- user templates ------------------------------------------------------------------------------------------


def _subject(text: str) -> str:
    """A filled subject template made safe for a mail header: one line, no controls, at most 250 chars."""
    return cut_at_word(_clean(text), TITLE_MAX) or "(no subject)"


def _escaper(form: str) -> Callable[[str], str]:
    if form == "html":
        return escape
    if form == "slack":
        return _slack_escape
    return lambda text: text


def _alert_values(alert_id: int, subject: str, view: _View, matches: Sequence[str], form: str) -> dict[str, str]:
    """Template values of one alert, escaped for `form` ("text", "html" or "slack")."""
    esc = _escaper(form)
    if form == "html":
        headline = _html_marked(view.headline, view.headline_marks)
        if view.link:
            headline = f'<a href="{escape(view.link, quote=True)}">{headline}</a>'
        summary = _html_marked(view.summary, view.summary_marks)
        matched = "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in matches) + "</ul>"
        also = _sources_html(view.also_reported)
    elif form == "slack":
        headline = _slack_escape(view.headline)
        if view.link:
            headline = f"<{_slack_url(view.link)}|{headline}>"
        summary = _slack_escape(view.summary)
        matched = "\n".join(f"• {_slack_escape(line)}" for line in matches)
        also = _sources_slack(view.also_reported)
    else:
        headline, summary = view.headline, view.summary
        matched = "\n".join(f"  - {line}" for line in matches)
        also = _sources_text(view.also_reported)
    link = view.link or ""
    return {
        "subject": esc(subject),
        "severity": esc(view.severity),
        "rule": esc(view.rule),
        "alert_id": str(alert_id),
        "headline": headline,
        "title": esc(view.headline),
        "link": _slack_url(link) if form == "slack" else esc(link),
        "source": esc(view.source),
        "published": esc(view.when),
        "summary": summary,
        "matched": matched,
        "also_reported": also,
        "update": esc(UPDATE_NOTE) if view.update else "",
    }


def _digest_values(view: _DigestView, form: str) -> dict[str, str]:
    """Template values of a digest, escaped for `form`; `items` is the built-in list of its alerts."""
    esc = _escaper(form)
    if form == "html":
        notices = "".join(f"<p>{escape(line)}</p>" for line in view.notices)
        items = "\n".join(_digest_html_groups(view))
    elif form == "slack":
        notices = "\n".join(f"_{_slack_escape(line)}_" for line in view.notices)
        items = "\n".join(_digest_markdown_groups(view))
    else:
        notices = "\n".join(view.notices)
        items = "\n".join(_digest_text_groups(view))
    return {
        "subject": esc(view.subject),
        "severity": esc(view.severity),
        "count": esc(view.count),
        "rules": esc(", ".join(view.rules)),
        "period": esc(view.period),
        "notices": notices,
        "items": items,
    }


# --- digests -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DigestEntry:
    """One story of a rule in a digest: its first alert, later alerts (updates), other outlets."""

    lead: _View
    updates: tuple[_View, ...]
    matched: tuple[str, ...]
    also_reported: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class _DigestGroup:
    """The alerts of one rule in a digest."""

    rule: str
    severity: str
    count: int
    entries: tuple[_DigestEntry, ...]


@dataclass(frozen=True)
class _DigestView:
    subject: str
    severity: str
    count: str  # "3 alerts"
    rules: tuple[str, ...]
    period: str  # "2026-11-24 19:05 UTC to 2026-11-24 20:10 UTC", "" when unknown
    notices: tuple[str, ...]
    groups: tuple[_DigestGroup, ...]


def _digest_view_of(alert: Alert, tz: tzinfo) -> _View:
    plain_title = html_to_text(alert.title)
    headline = _clean(plain_title) or "(no title)"
    plain_summary = html_to_text(alert.summary)
    summary = cut_at_word(_clean(plain_summary), DIGEST_SUMMARY_MAX)
    return _View(
        headline,
        _ranges_for(alert.hits, "title", plain_title, headline),
        summary,
        _ranges_for(alert.hits, "summary", plain_summary, summary),
        safe_link(alert.link),
        cut_at_word(_clean(alert.link), LINK_TEXT_MAX),
        _clean(html_to_text(alert.feed_name)) or "unknown feed",
        format_time(alert.published, tz),
        _clean(alert.rule),
        _clean(alert.severity),
        update=alert.update,
    )


def _digest_groups(alerts: Sequence[Alert], tz: tzinfo) -> tuple[_DigestGroup, ...]:
    """Alerts grouped by rule (most severe, then most alerts, then name) and by story inside a rule."""
    by_rule: dict[str, list[Alert]] = {}
    for alert in sorted(alerts, key=lambda a: (a.created_at or datetime.min.replace(tzinfo=UTC), a.alert_id)):
        by_rule.setdefault(alert.rule, []).append(alert)
    groups = []
    for rule, members in by_rule.items():
        stories: dict[object, list[Alert]] = {}
        for alert in members:
            key: object = alert.story_id if alert.story_id is not None else ("alert", alert.alert_id)
            stories.setdefault(key, []).append(alert)
        entries = []
        for story in stories.values():
            views = [_digest_view_of(alert, tz) for alert in story]
            sources = {view.source for view in views}
            reports = [report for alert in story for report in alert.also_reported]
            matched = tuple(dict.fromkeys(_clean(text) for alert in story for text in alert.matched if _clean(text)))
            entries.append(_DigestEntry(views[0], tuple(views[1:]), matched[:6], _other_reports(reports, sources)))
        severity = max((alert.severity for alert in members), key=severity_rank)
        groups.append(_DigestGroup(_clean(rule), _clean(severity), len(members), tuple(entries)))
    groups.sort(key=lambda group: (-severity_rank(group.severity), -group.count, group.rule))
    return tuple(groups)


def _plural(count: int) -> str:
    return f"{count} alert{'s' if count != 1 else ''}"


def _digest_text_groups(view: _DigestView) -> list[str]:
    lines: list[str] = []
    for group in view.groups:
        lines += ["", f"== {group.rule} (severity {group.severity}): {_plural(group.count)} =="]
        for entry in group.entries:
            lead = entry.lead
            lines += ["", f"* {lead.headline}", f"  {lead.source} · {lead.when}"]
            if entry.matched:
                lines.append(
                    "  Matched: " + ", ".join(f'"{cut_at_word(text, MATCH_TEXT_MAX)}"' for text in entry.matched)
                )
            if entry.also_reported:
                lines.append(f"  Also reported by: {_sources_text(entry.also_reported)}")
            for update in entry.updates:
                lines.append(f"  Update: {update.headline} ({update.source} · {update.when})")
            if lead.summary:
                lines.append(f"  {lead.summary}")
            lines.append(f"  {lead.link}" if lead.link else f"  {_unlinked(lead.raw_link)}")
    return lines


def _digest_text(view: _DigestView) -> str:
    lines = [view.subject, *view.notices]
    if view.period:
        lines.append(f"Alerts raised {view.period}.")
    return "\n".join(lines + _digest_text_groups(view)) + "\n"


def _digest_html_groups(view: _DigestView) -> list[str]:
    parts: list[str] = []
    for group in view.groups:
        parts.append(
            f'<h2 style="font-size: 1.1em; margin: 0.8em 0 0.2em">{escape(group.rule)} '
            f"(severity {escape(group.severity)}): {_plural(group.count)}</h2>"
        )
        items = []
        for entry in group.entries:
            lead = entry.lead
            headline = _html_marked(lead.headline, lead.headline_marks)
            if lead.link:
                headline = f'<a href="{escape(lead.link, quote=True)}">{headline}</a>'
            lines = [f"<strong>{headline}</strong>", f"{escape(lead.source)} · {escape(lead.when)}"]
            if entry.matched:
                lines.append("Matched: " + escape(", ".join(cut_at_word(t, MATCH_TEXT_MAX) for t in entry.matched)))
            if entry.also_reported:
                lines.append(f"Also reported by: {_sources_html(entry.also_reported)}")
            for update in entry.updates:
                title = escape(update.headline)
                if update.link:
                    title = f'<a href="{escape(update.link, quote=True)}">{title}</a>'
                lines.append(f"Update: {title} ({escape(update.source)} · {escape(update.when)})")
            if lead.summary:
                lines.append(_html_marked(lead.summary, lead.summary_marks))
            if not lead.link and lead.raw_link:
                lines.append(escape(_unlinked(lead.raw_link)))
            items.append(f'<li dir="auto" style="margin-bottom: 0.6em">{"<br/>".join(lines)}</li>')
        parts.append("<ul>" + "".join(items) + "</ul>")
    return parts


def _digest_html(view: _DigestView) -> str:
    parts = [
        '<div style="font-family: sans-serif; line-height: 1.4">',
        f"<p><strong>[{escape(view.severity)}] Digest</strong>: {escape(view.count)}, "
        f"{len(view.rules)} rule{'s' if len(view.rules) != 1 else ''}</p>",
    ]
    parts.extend(f"<p>{escape(line)}</p>" for line in view.notices)
    if view.period:
        parts.append(f"<p>Alerts raised {escape(view.period)}.</p>")
    parts.extend(_digest_html_groups(view))
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def _digest_markdown_groups(view: _DigestView) -> list[str]:
    lines: list[str] = []
    for group in view.groups:
        lines.append(
            f"*{_slack_escape(group.rule)}* (severity {_slack_escape(group.severity)}): {_plural(group.count)}"
        )
        for entry in group.entries:
            lead = entry.lead
            headline = _slack_escape(lead.headline)
            if lead.link:
                headline = f"<{_slack_url(lead.link)}|{headline}>"
            lines.append(f"• *{headline}* · {_slack_escape(lead.source)} · {_slack_escape(lead.when)}")
            if entry.also_reported:
                lines.append(f"   Also reported by: {_sources_slack(entry.also_reported)}")
            for update in entry.updates:
                title = _slack_escape(update.headline)
                if update.link:
                    title = f"<{_slack_url(update.link)}|{title}>"
                lines.append(f"   Update: {title} ({_slack_escape(update.source)})")
    return lines


def _digest_markdown(view: _DigestView) -> str:
    lines = [f"*[{_slack_escape(view.severity)}] Digest: {_slack_escape(view.count)}*"]
    lines.extend(f"_{_slack_escape(line)}_" for line in view.notices)
    if view.period:
        lines.append(f"Alerts raised {_slack_escape(view.period)}.")
    lines.extend(_digest_markdown_groups(view))
    return "\n".join(lines) + "\n"
