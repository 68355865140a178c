"""render.py: alert -> subject, text, HTML and Slack mrkdwn; escaping, safe links, highlights, golden files.

Regenerate the golden files after an intended change: `UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py`.
"""

from __future__ import annotations

import ast
import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

import monitor.render
from monitor.model import Alert, Hit
from monitor.render import Message, cut_at_word, html_to_text, render_alert, safe_link

GOLDEN = Path(__file__).parent / "golden"
WHEN = datetime(2026, 11, 24, 19, 5, tzinfo=UTC)
TITLE = "Kata'ib Hizballah claims drone strike on US base in Syria"
SUMMARY = "<p>The group, also known as <b>KH</b>, said its fighters launched two drones.</p>"
KH_AT = html_to_text(SUMMARY).index("KH")  # summary offsets refer to the tag-stripped summary
FUZZY_HIT = Hit("kataib-hezbollah", "actor", "Kataeb Hezbollah", "title", 0, 17, "Kata'ib Hizballah", 86.7)

ALLOWED_TAGS = {"div", "p", "strong", "h2", "a", "mark", "br", "ul", "li"}
ALLOWED_ATTRIBUTES = {"style", "dir", "href"}


def make_alert(**changes: object) -> Alert:
    """A realistic alert; keyword arguments replace fields."""
    alert = Alert(
        alert_id=7,
        rule="kataib-hezbollah",
        severity="high",
        title=TITLE,
        link="https://news.example.org/world/2026/11/24/drone-strike?ref=rss&lang=en",
        summary=SUMMARY,
        feed_name="Example Wire",
        published=WHEN,
        matched=("Kata'ib Hizballah", "KH"),
        hits=(FUZZY_HIT, Hit("kataib-hezbollah", "actor", "KH", "summary", KH_AT, KH_AT + 2, "KH", 100.0)),
    )
    return replace(alert, **changes)  # type: ignore[arg-type]


HOSTILE = make_alert(
    title='<script>alert("t")</script>Strike & "raid" <img src=x onerror=alert(1)> at <Base>',
    summary=(
        '<p onclick="steal()">Militia <a href="javascript:alert(1)">claims</a> attack.</p>'
        "<script>document.cookie</script><style>p{}</style><iframe src='https://evil'></iframe>"
        "&lt;b&gt;escaped markup&lt;/b&gt; &lt;!channel&gt; &amp; more"
    ),
    feed_name="Feed <i>name</i> & co",
    link="javascript:alert(document.domain)",
    hits=(Hit("t", "actor", 'a "<b>" & z', "content", 0, 3, "<svg onload=alert(1)>", 90.0),),
)


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> _TagCollector:
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    return collector


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


# --- title ----------------------------------------------------------------------------------------


def test_title_names_severity_rule_and_headline() -> None:
    """The title reads "[severity] rule: headline"."""
    assert render_alert(make_alert()).title == f"[high] kataib-hezbollah: {TITLE}"


def test_title_is_one_line_without_control_characters() -> None:
    """Newlines, tabs and control characters in a feed title never reach the title (no header injection)."""
    message = render_alert(make_alert(title="Breaking\r\nBcc: victim@example.org\t\x00\x1b[31mred\x07"))
    assert message.title == "[high] kataib-hezbollah: Breaking Bcc: victim@example.org [31mred"
    assert all(ord(char) >= 0x20 for char in message.title)


def test_title_is_at_most_250_characters_cut_at_a_word() -> None:
    """A very long headline is cut to 250 characters at a word boundary, ending with an ellipsis."""
    message = render_alert(make_alert(title="word " * 100))
    assert len(message.title) <= 250
    assert message.title.endswith("word…")


def test_title_drops_markup_from_the_feed() -> None:
    """feedparser returns titles unescaped: tags (and script content) are dropped from the subject line."""
    assert render_alert(HOSTILE).title == '[high] kataib-hezbollah: Strike & "raid" at'


def test_empty_title_has_a_placeholder() -> None:
    """An entry with no title still gets a readable subject."""
    assert render_alert(make_alert(title="  ")).title == "[high] kataib-hezbollah: (no title)"


# --- escaping and links ---------------------------------------------------------------------------


def test_no_feed_markup_survives_in_html() -> None:
    """Script, style, iframe, event handlers and feed links never appear as markup in the HTML body."""
    html = render_alert(HOSTILE).html
    parsed = parse_html(html)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    for _, attributes in parsed.tags:
        assert set(attributes) <= ALLOWED_ATTRIBUTES
        assert (attributes.get("href") or "https:").startswith(("https:", "http:"))
    lowered = html.lower()
    for forbidden in ("<script", "<img", "<svg", "<iframe", "<style", "onclick", "javascript:alert(1)"):
        assert forbidden not in lowered


def test_feed_text_is_escaped_in_html() -> None:
    """Angle brackets, ampersands and quotes from the feed are shown as text, escaped."""
    html = render_alert(HOSTILE).html
    assert "Strike &amp; &quot;raid&quot;" in html
    assert "&lt;b&gt;escaped markup&lt;/b&gt;" in html  # was entity-escaped in the feed: stays visible text
    assert "&quot;&lt;svg onload=alert(1)&gt;&quot; ~ a &quot;&lt;b&gt;&quot; &amp; z" in html
    assert "Feed name &amp; co" in html


def test_html_is_well_formed() -> None:
    """The HTML body parses as XML once wrapped in a root element, for normal and hostile alerts."""
    for alert in (make_alert(), HOSTILE, make_alert(title="كتائب حزب الله", link="")):
        ET.fromstring(f"<root>{render_alert(alert).html}</root>")


def test_javascript_link_is_dropped_and_shown_as_text() -> None:
    """A javascript: link is never a link (no href, no Slack link) but stays visible as text."""
    message = render_alert(HOSTILE)
    assert "href" not in message.html
    assert "javascript:alert(document.domain)" in message.html
    assert "<javascript:" not in message.markdown
    assert "Link (not a web link, not opened): javascript:alert(document.domain)" in message.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&c=2"),
        ("HTTP://Example.org/", "HTTP://Example.org/"),
        ("  https://example.org/a b  ", "https://example.org/a%20b"),
        ("javascript:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("\tjavascript:alert(1)", None),
        ("data:text/html;base64,PHNjcmlwdD4=", None),
        ("vbscript:msgbox", None),
        ("ftp://example.org/file", None),
        ("//evil.example/x", None),
        ("/relative/path", None),
        ("https://", None),
        ("https:evil", None),
        ("http://[::1", None),
        ("", None),
    ],
)
def test_safe_link_allows_only_absolute_http_urls(url: str, expected: str | None) -> None:
    """safe_link keeps absolute http(s) URLs with a host and rejects every other scheme or shape."""
    assert safe_link(url) == expected


def test_link_with_quotes_cannot_break_the_href_attribute() -> None:
    """A quote in a feed link is escaped inside href, so it cannot add attributes."""
    html = render_alert(make_alert(link='https://example.org/"onmouseover="alert(1)')).html
    assert 'href="https://example.org/&quot;onmouseover=&quot;alert(1)"' in html
    assert all(set(attributes) <= ALLOWED_ATTRIBUTES for _, attributes in parse_html(html).tags)


def test_slack_markdown_escapes_reserved_characters() -> None:
    """Slack mrkdwn gets & < > escaped in feed text and never a raw mention or HTML from the feed."""
    markdown = render_alert(HOSTILE).markdown
    assert "&lt;!channel&gt; &amp; more" in markdown
    assert 'Strike &amp; "raid" at' in markdown
    assert "<!" not in markdown
    assert "<b>" not in markdown
    assert "<script" not in markdown


def test_slack_link_uses_url_pipe_text_form_with_escaped_url() -> None:
    """The headline is a Slack <url|text> link; the URL's & is escaped and a | in it percent-encoded."""
    alert = make_alert(title="A & B > C < D | E", link="https://example.org/?a=1&b=2|3")
    markdown = render_alert(alert).markdown
    assert "*<https://example.org/?a=1&amp;b=2%7C3|A &amp; B &gt; C &lt; D | E>*" in markdown


# --- highlights -----------------------------------------------------------------------------------


def test_title_hit_offsets_are_highlighted() -> None:
    """A title hit's offsets mark exactly the matched words in the headline."""
    html = render_alert(make_alert()).html
    assert "<mark>Kata&#x27;ib Hizballah</mark> claims drone strike" in html


def test_summary_hit_offsets_refer_to_the_tag_stripped_summary() -> None:
    """Summary offsets into the tag-stripped summary mark the right word in the shown summary."""
    plain = html_to_text(make_alert().summary)
    assert plain[KH_AT : KH_AT + 2] == "KH"
    assert "also known as <mark>KH</mark>, said" in render_alert(make_alert()).html


def test_fitting_offsets_mark_that_occurrence_only() -> None:
    """When offsets fit, they decide which occurrence is marked (not a search for the first one)."""
    title = "KH denies, then KH   confirms"
    second = title.rindex("KH")
    hit = Hit("kh", "actor", "KH", "title", second, second + 2, "KH", 100.0)
    html = render_alert(make_alert(title=title, hits=(hit,))).html
    assert "KH denies, then <mark>KH</mark> confirms" in html


def test_wrong_offsets_fall_back_to_searching_the_text() -> None:
    """Offsets that do not fit the field (shifted or out of range) fall back to a search for the text."""
    for start, end in ((3, 20), (500, 517), (10, 5)):
        hit = replace(FUZZY_HIT, start=start, end=end)
        html = render_alert(make_alert(hits=(hit,))).html
        assert "<mark>Kata&#x27;ib Hizballah</mark> claims" in html
        assert html.count("<mark>") == 1


def test_search_fallback_marks_whole_words_only() -> None:
    """Searching for an acronym does not mark it inside another word."""
    hit = Hit("kh", "actor", "KH", "title", 0, 2, "KH", 100.0)
    html = render_alert(make_alert(title="Khamenei meets KH leaders", hits=(hit,))).html
    assert "Khamenei meets <mark>KH</mark> leaders" in html


def test_overlapping_hits_make_one_mark() -> None:
    """Two hits over the same words produce one well-formed <mark>, not nested or crossed tags."""
    hits = (FUZZY_HIT, Hit("kh", "actor", "Hizballah", "title", 8, 17, "Hizballah", 100.0))
    html = render_alert(make_alert(hits=hits)).html
    assert html.count("<mark>") == 1
    ET.fromstring(f"<root>{html}</root>")


def test_content_hits_are_listed_but_not_highlighted() -> None:
    """A hit in the content field (not shown) is listed under Matched and marks nothing."""
    hit = Hit("kh", "actor", "KH", "content", 0, 2, "KH", 100.0)
    message = render_alert(make_alert(hits=(hit,)))
    assert "<mark>" not in message.html
    assert '"KH" ~ KH (content, exact)' in message.text


def test_matched_lines_show_text_alias_field_and_score() -> None:
    """Each hit is explained as "text" ~ alias (field, fuzzy NN | exact)."""
    message = render_alert(make_alert())
    assert '  - "Kata\'ib Hizballah" ~ Kataeb Hezbollah (title, fuzzy 87)' in message.text
    assert '  - "KH" ~ KH (summary, exact)' in message.text


def test_matched_falls_back_to_matched_texts_without_hits() -> None:
    """An alert without hits still lists what matched."""
    message = render_alert(make_alert(hits=()))
    assert '  - "Kata\'ib Hizballah"\n  - "KH"' in message.text


# --- summary, time, unicode -----------------------------------------------------------------------


def test_summary_is_stripped_collapsed_and_cut_at_a_word() -> None:
    """The summary loses its tags, its whitespace runs, and is cut near 400 characters at a word boundary."""
    words = " ".join(f"word{i}" for i in range(200))
    message = render_alert(make_alert(summary=f"<div>\n  <p>{words}</p>\n</div>"))
    summary_line = next(line for line in message.text.splitlines() if line.startswith("word0 "))
    assert len(summary_line) <= 400
    assert summary_line.endswith("…")
    assert words.startswith(summary_line[:-1])
    assert words[len(summary_line) - 1] == " "  # the cut fell between two words


def test_cut_at_word_cuts_a_single_long_word() -> None:
    """A text without spaces is still cut to the limit."""
    assert cut_at_word("x" * 50, 10) == "x" * 9 + "…"
    assert cut_at_word("short", 10) == "short"


def test_published_time_is_shown_in_the_configured_zone() -> None:
    """The publication time is converted to the display zone and named."""
    baghdad = timezone(timedelta(hours=3), "AST")
    assert "Published: 2026-11-24 19:05 UTC" in render_alert(make_alert()).text
    assert "Published: 2026-11-24 22:05 AST" in render_alert(make_alert(), tz=baghdad).text


def test_missing_time_says_time_unknown() -> None:
    """An entry without a date shows "time unknown"."""
    message = render_alert(make_alert(published=None))
    assert "Published: time unknown" in message.text
    assert "time unknown" in message.html
    assert "time unknown" in message.markdown


def test_arabic_headline_is_kept_highlighted_and_marked_bidi_auto() -> None:
    """An Arabic headline survives intact, its hit is marked, and the HTML lets the reader pick direction."""
    title = "كتائب حزب الله تعلن مسؤوليتها عن الهجوم"
    hit = Hit("kataib-hezbollah", "actor", "كتائب حزب الله", "title", 0, 14, "كتائب حزب الله", 100.0)
    message = render_alert(make_alert(title=title, hits=(hit,)))
    assert message.title == f"[high] kataib-hezbollah: {title}"
    assert '<h2 dir="auto"' in message.html
    assert "<mark>كتائب حزب الله</mark> تعلن" in message.html
    assert f"|{title}>" in message.markdown


def test_bidi_override_characters_are_removed() -> None:
    """Right-to-left override marks, which can disguise text, are removed from feed strings."""
    message = render_alert(make_alert(title="Invoice \u202egnp.exe", feed_name="\u2066Wire\u2069"))
    for form in (message.title, message.text, message.html, message.markdown):
        assert "\u202e" not in form
        assert "\u2066" not in form
    assert "Invoice gnp.exe" in message.title


def test_text_form_has_every_part() -> None:
    """The plain text names headline, source, time, rule, severity, matches, summary and link."""
    text = render_alert(make_alert()).text
    assert text.splitlines()[0] == f"[high] kataib-hezbollah: {TITLE}"
    for part in (
        "Source: Example Wire",
        "Published: 2026-11-24 19:05 UTC",
        "Rule: kataib-hezbollah (severity high)",
        "also known as KH, said its fighters launched two drones.",
        "Link: https://news.example.org/world/2026/11/24/drone-strike?ref=rss&lang=en",
    ):
        assert part in text


def test_render_module_does_no_io() -> None:
    """render.py imports no I/O library (pure module)."""
    tree = ast.parse(Path(monitor.render.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not imported & {"apprise", "aiohttp", "sqlite3", "sqlite_utils", "socket", "smtplib", "requests"}


# --- golden files ---------------------------------------------------------------------------------


GOLDEN_TITLE = 'Kata\'ib Hizballah claims "drone strike" on US base & airfield <update>'
DRONE = GOLDEN_TITLE.index("drone strike")


def golden_message() -> Message:
    return render_alert(
        make_alert(
            title=GOLDEN_TITLE,
            summary=(
                "<p>The group, also known as <b>KH</b>, said its fighters launched two drones at the base "
                "near al-Tanf.</p><script>track()</script>"
                "<p>Officials did not confirm &amp; declined comment.</p>"
            ),
            link="https://news.example.org/world/2026/11/24/drone-strike?ref=rss&lang=en",
            feed_name="Example Wire & Co",
            hits=(
                FUZZY_HIT,
                Hit("kataib-hezbollah", "actor", "KH", "summary", KH_AT, KH_AT + 2, "KH", 100.0),
                Hit("disarmament", "theme", "drone strike", "title", DRONE, DRONE + 12, "drone strike", 100.0),
            ),
        ),
        tz=timezone(timedelta(hours=3), "AST"),
    )


def test_email_html_matches_golden_file() -> None:
    """The HTML body of a reference alert is exactly tests/golden/alert_email.html."""
    check_golden("alert_email.html", golden_message().html)


def test_slack_markdown_matches_golden_file() -> None:
    """The Slack body of a reference alert is exactly tests/golden/alert_slack.md."""
    check_golden("alert_slack.md", golden_message().markdown)
