"""parse.py: feedparser on bytes, stable ids, DOCTYPE stripping, dates."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.match import Matcher
from monitor.normalize import strip_html
from monitor.parse import parse_feed, stable_id, strip_doctype
from monitor.render import html_to_text
from monitor.rules import load_rules
from tests.feedgen import atom, item, rss

WHEN = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def test_rss_entries_have_fields_and_dates() -> None:
    """An RSS item becomes an Entry with title, link, summary and a UTC publication time."""
    body = rss(
        [
            item(
                "Kataib Hezbollah statement",
                guid="g1",
                link="https://x.org/1",
                description="text",
                published=WHEN,
            )
        ]
    )
    parsed = parse_feed(body, url="https://x.org/feed", headers={})
    assert parsed.is_feed
    assert parsed.version == "rss20"
    [entry] = parsed.entries
    assert (entry.entry_id, entry.title, entry.link, entry.summary) == (
        "g1",
        "Kataib Hezbollah statement",
        "https://x.org/1",
        "text",
    )
    assert entry.published == WHEN
    assert entry.feed_title == "Test Wire"


def test_atom_is_parsed() -> None:
    """An Atom feed gives entries with their ids and links."""
    parsed = parse_feed(
        atom([item("A", guid="urn:a", link="https://x.org/a", published=WHEN)]),
        url="https://x.org/",
        headers={},
    )
    assert parsed.version.startswith("atom")
    assert parsed.entries[0].entry_id == "urn:a"
    assert parsed.entries[0].link == "https://x.org/a"


def test_titles_feedparser_judges_html_become_plain_text() -> None:
    """Titles escaped twice ("&amp;#39;"), with entities or tags, come out as the text a reader sees."""
    body = rss(
        [
            item("Iraq&#39;s Kata&#39;ib Hezbollah &lt;warns&gt;", guid="1"),
            item("Price &lt; 5 <b>bold</b> move", guid="2"),
            item("AT&T & Sons", guid="3"),  # plain text with a bare ampersand: left as it is
        ],
        title="Wire &amp; Co",
    )
    parsed = parse_feed(body, url="https://x.org/feed", headers={})
    assert [entry.title for entry in parsed.entries] == [
        "Iraq's Kata'ib Hezbollah <warns>",
        "Price < 5 bold move",
        "AT&T & Sons",
    ]
    assert parsed.title == "Wire & Co"
    atom_body = atom([item("<b>Kata&#39;ib</b> Hezbollah", guid="urn:a")]).replace(
        b"<title>&lt;b", b'<title type="html">&lt;b'
    )
    assert parse_feed(atom_body, url="https://x.org/", headers={}).entries[0].title == "Kata'ib Hezbollah"


def test_a_name_in_a_twice_escaped_title_is_matched() -> None:
    """The shipped rules find "Kata'ib Hezbollah" in a title a feed escaped twice (a real outlet does)."""
    body = rss([item("US strikes Kata&#39;ib Hezbollah sites", guid="1")])
    [entry] = parse_feed(body, url="https://x.org/feed", headers={}).entries
    matches = Matcher(load_rules(Path(__file__).resolve().parent.parent / "rules")).match(entry)
    assert "kataib-hezbollah" in [found.rule for found in matches]


def test_stable_id_prefers_guid_then_link_then_hash() -> None:
    """The id is the guid, else the link, else a hash of title and content that is stable across calls."""
    assert stable_id("g", "l", "t", "b") == "g"
    assert stable_id("", "l", "t", "b") == "l"
    hashed = stable_id("", "", "t", "b")
    assert hashed.startswith("sha256:")
    assert hashed == stable_id("", "", "t", "b")
    assert hashed != stable_id("", "", "t", "other")


def test_entries_without_guid_or_link_get_hash_ids() -> None:
    """Items with neither guid nor link still get distinct, repeatable ids."""
    body = rss([item("one"), item("two")])
    first = parse_feed(body, url="https://x.org/", headers={})
    again = parse_feed(body, url="https://x.org/", headers={})
    ids = [entry.entry_id for entry in first.entries]
    assert len(set(ids)) == 2
    assert ids == [entry.entry_id for entry in again.entries]


def test_relative_links_resolve_against_the_feed_url() -> None:
    """A relative item link is made absolute with the URL the feed was fetched from."""
    body = rss([item("x", link="/news/1")])
    parsed = parse_feed(body, url="https://news.example.org/feed.xml", headers={})
    assert parsed.entries[0].link == "https://news.example.org/news/1"


def test_summary_is_the_published_markup_and_every_reader_of_it_gets_text() -> None:
    """Summaries keep the feed's markup (no sanitiser pass); matching and alert text see no script or tag."""
    hostile = (
        '<p onclick="steal()">Kataib <b>Hezbollah</b> <a href="/more">statement</a></p>'
        "<script>var secret = 1;</script><img src=x onerror=alert(1)>"
    )
    body = rss([item("x", link="/news/1", description=hostile)])
    [entry] = parse_feed(body, url="https://news.example.org/feed.xml", headers={}).entries
    assert entry.summary == hostile  # untrusted, as published; the relative href is left alone
    assert entry.link == "https://news.example.org/news/1"  # the entry's own link is still resolved
    for text in (strip_html(entry.summary), html_to_text(entry.summary)):
        assert "Kataib Hezbollah statement" in text
        assert not any(marker in text for marker in ("<", "secret", "onerror", "steal"))


def test_html_page_is_not_a_feed() -> None:
    """An HTML page parses to no entries and is reported as not a feed."""
    parsed = parse_feed(
        b"<html><head><title>Hi</title></head><body><p>hello</p></body></html>",
        url="https://x.org/",
        headers={"content-type": "text/html"},
    )
    assert not parsed.is_feed


def test_charset_from_content_type_header() -> None:
    """The charset given in Content-Type decodes a body that declares none."""
    xml = (
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>Café Sudani</title><guid>1</guid></item></channel></rss>"
    )
    body = xml.encode("latin-1")
    parsed = parse_feed(body, url="https://x.org/", headers={"content-type": "application/rss+xml; charset=iso-8859-1"})
    assert parsed.entries[0].title == "Café Sudani"


def test_doctype_with_entities_is_stripped_before_parsing() -> None:
    """A DOCTYPE's internal entities are removed, so a quadratic entity blow-up cannot expand."""
    entity = "A" * 10_000
    uses = "&big;" * 2_000
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{entity}">]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>{uses}</title><guid>1</guid></item></channel></rss>'
    ).encode()
    started = time.perf_counter()
    parsed = parse_feed(body, url="https://x.org/", headers={})
    assert time.perf_counter() - started < 5
    assert len(parsed.entries[0].title) < 100_000


def test_strip_doctype_leaves_documents_without_one_alone() -> None:
    """A document without DOCTYPE is returned unchanged; a DOCTYPE in the body text is not touched."""
    body = b'<?xml version="1.0"?><rss><channel><title>&lt;!DOCTYPE x&gt;</title></channel></rss>'
    assert strip_doctype(body) == body
    assert (
        strip_doctype(b'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "x.dtd">\n<rss/>')
        == b'<?xml version="1.0"?>\n\n<rss/>'
    )


def test_content_is_kept_separately_from_summary() -> None:
    """Atom content different from the summary is kept in Entry.content."""
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><id>1</id><title>x</title><summary>short</summary>"
        b'<content type="html">&lt;p&gt;Long text about al-Nujaba&lt;/p&gt;</content></entry></feed>'
    )
    entry = parse_feed(body, url="https://x.org/", headers={}).entries[0]
    assert entry.summary == "short"
    assert "al-Nujaba" in entry.content
