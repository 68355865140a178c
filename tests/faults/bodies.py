"""Hostile feed bodies for the fault-injection suite: each one is built here from scratch (never copied).

Every body case carries a marker (its name in square brackets) in the title of its relevant entry, so an alert
raised for it can be told apart from every other case's. `Expect` says what monitor must make of it:
"alert" (the marked entry is parsed and matched), "not_a_feed" (refused with one line), "any" (no crash, no
hang, one line at most, nothing else promised).

The catalogue is data: tests/test_faults.py serves each body as a file (`monitor match FILE`) and over HTTP from
a real server on 127.0.0.1 (`monitor run --once`, beside a good feed that must still alert).
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal
from xml.sax.saxutils import escape

Expect = Literal["alert", "not_a_feed", "any"]

ACTOR = "Kataib Hezbollah"
ACTOR_AR = "كتائب حزب الله"
RELEVANT = "{actor} says it will hand over {number} heavy weapons {marker}"
IRRELEVANT = "Football: Baghdad club wins the cup {marker}"

RULES = f"""
[actors.kataib-hezbollah]
name = "Kata'ib Hezbollah"
aliases = ["Kataeb Hezbollah", "Kataib Hezbollah", "Hezbollah Brigades", "{ACTOR_AR}"]
acronyms = ["KH"]

[rules.kataib-hezbollah]
description = "Kata'ib Hezbollah, any mention"
severity = "high"
any = ["kataib-hezbollah"]

[rules.kataib-hezbollah.examples]
match = ["Kata'ib Hizballah claims drone strike"]
no_match = ["Lebanon's Kataeb party meets"]
"""
"""The watch rules every fault case is matched against (an Arabic alias for the encoding cases)."""


@dataclass(frozen=True)
class Context:
    """What a body may point at: a canary file and a canary URL that must never be read by monitor."""

    canary_file: str  # absolute path of a file holding CANARY
    canary_url: str  # http://127.0.0.1:PORT/... on a server that records requests


CANARY = "CANARY-7f3e-secret-must-not-leak"


@dataclass(frozen=True)
class BodyCase:
    """One hostile body: how to build it, what monitor must make of it, how to serve it over HTTP."""

    name: str
    category: str
    build: Callable[[Context], bytes]
    expect: Expect
    content_type: str | None = "application/rss+xml; charset=utf-8"  # served with it over HTTP (None: no header)

    @property
    def marker(self) -> str:
        """The text that identifies this case's relevant entry (in titles, alerts and mail subjects)."""
        return f"[{self.name}]"


def relevant(marker: str, actor: str = ACTOR) -> str:
    """The title of a case's relevant entry.

    Its number is the case's own: titles that differ only in their marker would be grouped as one story
    (monitor.stories), while two titles with different numbers never are.
    """
    return RELEVANT.format(actor=actor, number=case_number(marker), marker=marker)


def case_number(marker: str) -> int:
    """A number of 4 digits that is stable for a marker."""
    return 1000 + zlib.crc32(marker.encode()) % 9000


def now_rfc822(offset: timedelta = timedelta(0)) -> str:
    """An RFC 822 date `offset` from now (recent entries alert on a feed's first poll)."""
    return format_datetime((datetime.now(UTC) + offset).replace(microsecond=0), usegmt=True)


def rss_text(
    items: list[str], *, prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n', title: str = "Fault Wire"
) -> str:
    """An RSS 2.0 document around raw `<item>` XML strings (the caller escapes what needs escaping)."""
    return (
        f'{prolog}<rss version="2.0"><channel><title>{title}</title><link>https://example.org/</link>'
        f"<description>fault case</description>\n" + "\n".join(items) + "\n</channel></rss>\n"
    )


def item_xml(
    title: str,
    *,
    guid: str | None = "auto",
    link: str | None = "auto",
    description: str = "",
    date: str | None = "now",
    marker: str = "",
    raw_title: bool = False,
) -> str:
    """One RSS item as XML text; "auto" ids and links derive from the marker; `description` is raw XML."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in (marker or title))[:60]
    parts = ["<item>", f"<title>{title if raw_title else escape(title)}</title>"]
    if link == "auto":
        link = f"https://news.example.org/{slug}"
    if link:
        parts.append(f"<link>{escape(link)}</link>")
    if guid == "auto":
        guid = f"urn:fault:{slug}"
    if guid:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if description:
        parts.append(f"<description>{description}</description>")
    if date == "now":
        date = now_rfc822()
    if date:
        parts.append(f"<pubDate>{escape(date)}</pubDate>")
    parts.append("</item>")
    return "".join(parts)


def simple_feed(marker: str, *, actor: str = ACTOR, prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n') -> str:
    """A small valid feed with the case's relevant entry and an irrelevant one."""
    return rss_text(
        [
            item_xml(relevant(marker, actor), marker=marker),
            item_xml(IRRELEVANT.format(marker=marker), marker=marker + "-other"),
        ],
        prolog=prolog,
    )


# -- XML attacks -----------------------------------------------------------------------------------------------


def billion_laughs(ctx: Context) -> bytes:
    """Nine levels of ten entity references: 10^9 "lol"s if expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{level} "{("&lol" + str(level - 1) + ";") * 10}">' for level in range(1, 10)
    ]
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(entities) + "\n]>\n"
    marker = "[billion-laughs]"
    return rss_text(
        [
            item_xml(relevant(marker) + " &lol9;", marker=marker, raw_title=True),
            item_xml("laughs &lol9;", raw_title=True, marker="x"),
        ],
        prolog=prolog,
    ).encode()


def quadratic_blowup(ctx: Context) -> bytes:
    """One 10 KB entity used 20,000 times in a title: about 200 million characters if expanded (a 70 KB feed)."""
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 10_000 + '">\n]>\n'
    marker = "[quadratic-blowup]"
    title = relevant(marker) + " " + "&a;" * 20_000
    return rss_text([item_xml(title, marker=marker, raw_title=True)], prolog=prolog).encode()


def quadratic_blowup_utf16(ctx: Context) -> bytes:
    """The quadratic blow-up encoded as UTF-16 with a BOM: a DOCTYPE search on ASCII bytes does not see it."""
    prolog = '<?xml version="1.0" encoding="utf-16"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 10_000 + '">\n]>\n'
    marker = "[quadratic-blowup-utf16]"
    title = relevant(marker) + " " + "&a;" * 20_000
    return codecs.BOM_UTF16_LE + rss_text([item_xml(title, marker=marker, raw_title=True)], prolog=prolog).encode(
        "utf-16-le"
    )


def external_entity_file(ctx: Context) -> bytes:
    """An external entity naming a local file: its content must never appear in an entry."""
    prolog = f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{ctx.canary_file}">]>\n'
    marker = "[external-entity-file]"
    return rss_text(
        [item_xml(relevant(marker) + " &xxe;", marker=marker, raw_title=True, description="&xxe;")], prolog=prolog
    ).encode()


def external_entity_http(ctx: Context) -> bytes:
    """An external entity and an external DTD on a local canary server: neither may be requested."""
    prolog = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{ctx.canary_url}/evil.dtd" '
        f'[<!ENTITY xxe SYSTEM "{ctx.canary_url}/xxe"> <!ENTITY % remote SYSTEM "{ctx.canary_url}/param"> %remote;]>\n'
    )
    marker = "[external-entity-http]"
    return rss_text(
        [item_xml(relevant(marker) + " &xxe;", marker=marker, raw_title=True, description="&xxe;")], prolog=prolog
    ).encode()


def deep_nesting(ctx: Context) -> bytes:
    """200,000 nested elements inside an item (1.6 MB): recursion and stack depth."""
    marker = "[deep-nesting]"
    depth = 200_000
    nested = "<x>" * depth + "deep" + "</x>" * depth
    return rss_text([item_xml(relevant(marker), marker=marker), f"<item><title>nest</title>{nested}</item>"]).encode()


def deep_nesting_unclosed(ctx: Context) -> bytes:
    """300,000 unclosed nested elements: a malformed document that forces the loose parser."""
    marker = "[deep-nesting-unclosed]"
    return (
        rss_text([item_xml(relevant(marker), marker=marker)]).replace("</channel></rss>\n", "") + "<div>" * 300_000
    ).encode()


def double_doctype(ctx: Context) -> bytes:
    """A harmless DOCTYPE first, then a second one with the quadratic entity (a single strip misses it)."""
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE rss>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 10_000 + '">\n]>\n'
    marker = "[double-doctype]"
    title = relevant(marker) + " " + "&a;" * 20_000
    return rss_text([item_xml(title, marker=marker, raw_title=True)], prolog=prolog).encode()


def doctype_tricks(ctx: Context) -> bytes:
    """A lower-case doctype whose internal subset has "]>" inside a quoted value, markup in an entity, then
    the big entity on its own line."""
    prolog = (
        '<?xml version="1.0"?>\n<!doctype rss [\n<!ENTITY t "]>">\n<!ENTITY m "<b>bold</b>">\n'
        '<!ENTITY a "' + "A" * 10_000 + '">\n]>\n'
    )
    marker = "[doctype-tricks]"
    title = relevant(marker) + " &t;&m;" + "&a;" * 20_000
    return rss_text([item_xml(title, marker=marker, raw_title=True)], prolog=prolog).encode()


def markup_flood(ctx: Context) -> bytes:
    """Two million empty elements in the channel before the items (8 MB of tags, minutes of parsing)."""
    marker = "[markup-flood]"
    text = rss_text([item_xml(relevant(marker), marker=marker)])
    return text.replace("<description>fault case</description>", "<x/>" * 2_000_000).encode()


def escaped_markup_flood(ctx: Context) -> bytes:
    """One item whose description is 500,000 escaped tags (the sanitizer parses them), then the relevant one."""
    marker = "[escaped-markup-flood]"
    flood = item_xml("flood", marker="flood", description=escape("<b>" * 500_000))
    return rss_text([flood, item_xml(relevant(marker), marker=marker)]).encode()


def unclosed_items(ctx: Context) -> bytes:
    """The relevant item, then 1.2 million "<item>" start tags that never close (the loose parser would make
    each an entry)."""
    marker = "[unclosed-items]"
    return rss_text([item_xml(relevant(marker), marker=marker), "<item>" * 1_200_000]).encode()


def many_entries_oldest_first(ctx: Context) -> bytes:
    """20,000 entries listed oldest first: the relevant (newest) one is the last."""
    marker = "[many-oldest-first]"
    items = [
        item_xml(
            f"Archive report number {index}", guid=f"urn:old:{index}", link=f"https://news.example.org/old/{index}"
        )
        for index in range(19_999)
    ]
    return rss_text([*items, item_xml(relevant(marker), marker=marker)]).encode()


def many_doctypes(ctx: Context) -> bytes:
    """300,000 DOCTYPEs in the prolog (3.6 MB): stripping them one search at a time is quadratic."""
    marker = "[many-doctypes]"
    prolog = '<?xml version="1.0"?>\n' + "<!DOCTYPE a>" * 300_000 + "\n"
    return rss_text([item_xml(relevant(marker), marker=marker)], prolog=prolog).encode()


def unterminated_doctypes(ctx: Context) -> bytes:
    """300,000 DOCTYPE internal subsets that never end: a lazy search for "]>" from each is quadratic."""
    marker = "[unterminated-doctypes]"
    prolog = '<?xml version="1.0"?>\n' + "<!DOCTYPE a [" * 300_000 + "\n"
    return rss_text([item_xml(relevant(marker), marker=marker)], prolog=prolog).encode()


# -- size ------------------------------------------------------------------------------------------------------


def huge_entry(ctx: Context) -> bytes:
    """One entry with 6 MB of text in its description and 1 MB in its title."""
    marker = "[huge-entry]"
    words = "militia weapons state control parliament vote " * 20
    description = escape(words * (6_000_000 // len(words)))
    title = relevant(marker) + " " + "long " * 200_000
    return rss_text([item_xml(title, marker=marker, description=description)]).encode()


def many_entries(ctx: Context) -> bytes:
    """20,000 entries (the relevant one first, as feeds list the newest first)."""
    marker = "[many-entries]"
    items = [item_xml(relevant(marker), marker=marker)]
    items += [
        item_xml(
            f"Market report number {index}", guid=f"urn:many:{index}", link=f"https://news.example.org/many/{index}"
        )
        for index in range(19_999)
    ]
    return rss_text(items).encode()


def oversized_file(ctx: Context) -> bytes:
    """A feed with 12 MB of padding: over the default 10 MB body limit (served over HTTP with a length)."""
    marker = "[oversized]"
    return rss_text([item_xml(relevant(marker), marker=marker, description=" " * 12_000_000)]).encode()


def gzip_file(ctx: Context) -> bytes:
    """A gzip-compressed feed given as it is (a file is not decompressed): garbage bytes, not a feed."""
    return gzip.compress(simple_feed("[gzip-file]").encode(), mtime=0)


# -- encodings -------------------------------------------------------------------------------------------------


def arabic_feed(marker: str, encoding_name: str, *, declared: str | None = None, bom: bytes = b"") -> bytes:
    """A feed with an Arabic relevant title, encoded in `encoding_name`, declaring `declared`."""
    prolog = f'<?xml version="1.0" encoding="{declared or encoding_name}"?>\n'
    text = rss_text(
        [
            item_xml(f"{ACTOR_AR}: تسليم {case_number(marker)} قطعة سلاح ثقيل {marker}", marker=marker),
            item_xml(IRRELEVANT.format(marker=marker), marker=marker + "-other"),
        ],
        prolog=prolog,
    )
    return bom + text.encode(encoding_name)


def windows_1256(ctx: Context) -> bytes:
    """Arabic in Windows-1256, declared as such."""
    return arabic_feed("[windows-1256]", "cp1256", declared="windows-1256")


def windows_1256_undeclared(ctx: Context) -> bytes:
    """Arabic in Windows-1256 with no encoding declared (XML then means UTF-8): invalid bytes everywhere."""
    text = simple_feed("[windows-1256-undeclared]", prolog='<?xml version="1.0"?>\n').replace(
        "</channel>", f"<item><title>{ACTOR_AR} cp1256</title><guid>w</guid></item></channel>"
    )
    return text.encode("cp1256")


def wrong_declared_charset(ctx: Context) -> bytes:
    """UTF-8 bytes declared as ISO-8859-1: the Arabic turns into mojibake, the Latin title still matches."""
    marker = "[wrong-charset]"
    text = rss_text(
        [item_xml(relevant(marker) + f" / {ACTOR_AR}", marker=marker)],
        prolog='<?xml version="1.0" encoding="iso-8859-1"?>\n',
    )
    return text.encode("utf-8")


def bogus_charset(ctx: Context) -> bytes:
    """An encoding name no codec knows."""
    return simple_feed("[bogus-charset]", prolog='<?xml version="1.0" encoding="x-no-such-charset-42"?>\n').encode()


def utf8_bom(ctx: Context) -> bytes:
    """A UTF-8 byte-order mark before the XML declaration."""
    return codecs.BOM_UTF8 + arabic_feed("[utf8-bom]", "utf-8")


def utf8_bom_declared_utf16(ctx: Context) -> bytes:
    """A UTF-8 BOM on a document that declares UTF-16: the BOM must win."""
    return codecs.BOM_UTF8 + arabic_feed("[utf8-bom-says-utf16]", "utf-8", declared="utf-16")


def utf16_le_bom(ctx: Context) -> bytes:
    """UTF-16 little-endian with its BOM."""
    return arabic_feed("[utf16-le-bom]", "utf-16-le", declared="utf-16", bom=codecs.BOM_UTF16_LE)


def utf16_be_no_bom(ctx: Context) -> bytes:
    """UTF-16 big-endian without a BOM (the XML declaration's byte pattern tells)."""
    return arabic_feed("[utf16-be-no-bom]", "utf-16-be", declared="utf-16be")


def utf32_bom(ctx: Context) -> bytes:
    """UTF-32 big-endian with its BOM."""
    return arabic_feed("[utf32-bom]", "utf-32-be", declared="utf-32", bom=codecs.BOM_UTF32_BE)


def double_encoded(ctx: Context) -> bytes:
    """UTF-8 text encoded to UTF-8 a second time (read as Latin-1 in between): mojibake, no crash."""
    marker = "[double-encoded]"
    inner = f"{relevant(marker)} — {ACTOR_AR} «quoted»"
    mojibake = inner.encode("utf-8").decode("latin-1")
    return rss_text([item_xml(mojibake, marker=marker)]).encode("utf-8")


def invalid_utf8(ctx: Context) -> bytes:
    """Bytes that are not UTF-8 in a document declared UTF-8 (lone continuation bytes, 0xFF, a cut sequence)."""
    marker = "[invalid-utf8]"
    text = rss_text([item_xml(relevant(marker) + " BAD1 BAD2", marker=marker)])
    return text.encode().replace(b"BAD1", b"\x80\xbf\xff\xfe").replace(b"BAD2", b"\xe2\x82")


def control_characters(ctx: Context) -> bytes:
    """NUL and other C0 controls, and character references to surrogates and U+FFFF, inside text."""
    marker = "[control-characters]"
    title = relevant(marker) + " &#xD800; &#xFFFF; &#1;"
    return rss_text([item_xml(title, marker=marker, raw_title=True, description="a\x00b\x01c\x1bd")]).encode()


# -- content ---------------------------------------------------------------------------------------------------


def no_ids_titles_dates(ctx: Context) -> bytes:
    """Items without guid, link, title or date; the relevant one has only a description."""
    marker = "[no-ids]"
    items = [
        f"<item><description>{escape(relevant(marker))}</description><pubDate>{now_rfc822()}</pubDate></item>",
        "<item><description>Nothing in particular happened.</description></item>",
        "<item></item>",
        "<item><title></title><link></link><guid></guid></item>",
    ]
    return rss_text(items).encode()


def odd_dates(ctx: Context) -> bytes:
    """Dates in the future and in odd formats; the relevant item is dated in 2099."""
    marker = "[odd-dates]"
    odd = [
        "2016/6/29",
        "yesterday",
        "32 Foo 2020 99:99:99",
        "0000-00-00T00:00:00Z",
        "Tue, 31 Feb 2026 10:00:00 GMT",
        "1e400",
        "",
    ]
    items = [item_xml(relevant(marker), marker=marker, date="Fri, 31 Dec 2099 23:59:59 GMT")]
    items += [item_xml(f"Odd date {index}", marker=f"odd-{index}", date=value) for index, value in enumerate(odd)]
    return rss_text(items).encode()


def duplicate_guids(ctx: Context) -> bytes:
    """Two relevant items sharing one guid in the same feed: one entry, one alert."""
    marker = "[duplicate-guids]"
    items = [
        item_xml(relevant(marker), marker=marker, guid="urn:dup:1", link="https://news.example.org/dup-a"),
        item_xml(relevant(marker) + " again", marker=marker, guid="urn:dup:1", link="https://news.example.org/dup-b"),
    ]
    return rss_text(items).encode()


def html_in_titles(ctx: Context) -> bytes:
    """Markup and scripts in a title (escaped, so feedparser returns them as text) and in a description."""
    marker = "[html-in-titles]"
    title = escape(f"<script>alert('x')</script><b>{relevant(marker)}</b><img src=x onerror=alert(1)>")
    description = escape('<script>document.cookie</script><a href="javascript:alert(1)">click</a>')
    return rss_text([item_xml(title, marker=marker, raw_title=True, description=description)]).encode()


def atom_relative_and_cdata(ctx: Context) -> bytes:
    """An Atom feed with CDATA, xml:base and a relative link."""
    marker = "[atom-cdata]"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/x/">'
        "<title>Atom</title><id>urn:atom</id><updated>2026-01-01T00:00:00Z</updated>"
        f'<entry><title type="html"><![CDATA[{relevant(marker)} <i>now</i>]]></title><id>urn:atom:1</id>'
        f'<link href="story/1"/><updated>{datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}</updated></entry></feed>\n'
    ).encode()


def truncated_feed(ctx: Context) -> bytes:
    """A feed cut off in the middle of an item (a dropped connection saved to disk)."""
    full = simple_feed("[truncated]")
    return full[: full.index("Football") + 10].encode()


def link_flood(ctx: Context) -> bytes:
    """An HTML page of 300,000 "<link " tags that never close (1.8 MB): autodiscovery must stay linear."""
    return b"<html><head>" + b"<link " * 300_000


def html_page(ctx: Context) -> bytes:
    """An HTML page instead of a feed, linking to its feed (autodiscovery)."""
    return (
        b"<!DOCTYPE html><html><head><title>News</title>"
        b'<link rel="alternate" type="application/rss+xml" title="RSS" href="/feeds/news.xml">'
        b"</head><body><h1>Kataib Hezbollah news</h1><p>Read our feed.</p></body></html>"
    )


def empty_body(ctx: Context) -> bytes:
    """Zero bytes."""
    return b""


def binary_noise(ctx: Context) -> bytes:
    """Random-looking binary bytes (a JPEG header and noise)."""
    return b"\xff\xd8\xff\xe0" + bytes((index * 7919) % 256 for index in range(50_000))


def json_feed(ctx: Context) -> bytes:
    """A JSON document where a feed was expected."""
    return b'{"version": "https://jsonfeed.org/version/1", "items": [{"title": "Kataib Hezbollah"}]}'


BODY_CASES: tuple[BodyCase, ...] = (
    BodyCase("billion-laughs", "xml", billion_laughs, "alert"),
    BodyCase("quadratic-blowup", "xml", quadratic_blowup, "alert"),
    BodyCase("quadratic-blowup-utf16", "xml", quadratic_blowup_utf16, "alert", "application/rss+xml"),
    BodyCase("external-entity-file", "xml", external_entity_file, "alert"),
    BodyCase("external-entity-http", "xml", external_entity_http, "alert"),
    BodyCase("double-doctype", "xml", double_doctype, "alert"),
    BodyCase("doctype-tricks", "xml", doctype_tricks, "alert"),
    BodyCase("many-doctypes", "xml", many_doctypes, "alert"),
    BodyCase("unterminated-doctypes", "xml", unterminated_doctypes, "alert"),
    BodyCase("deep-nesting", "xml", deep_nesting, "alert"),
    BodyCase("deep-nesting-unclosed", "xml", deep_nesting_unclosed, "alert"),
    BodyCase("huge-entry", "size", huge_entry, "alert"),
    BodyCase("many-entries", "size", many_entries, "alert"),
    BodyCase("many-oldest-first", "size", many_entries_oldest_first, "alert"),
    BodyCase("markup-flood", "size", markup_flood, "alert"),
    BodyCase("escaped-markup-flood", "size", escaped_markup_flood, "alert"),
    BodyCase("unclosed-items", "size", unclosed_items, "alert"),
    BodyCase("oversized", "size", oversized_file, "any"),
    BodyCase("gzip-file", "size", gzip_file, "not_a_feed"),
    BodyCase("windows-1256", "encoding", windows_1256, "alert", "application/rss+xml"),
    BodyCase("windows-1256-undeclared", "encoding", windows_1256_undeclared, "alert", "application/rss+xml"),
    BodyCase("wrong-charset", "encoding", wrong_declared_charset, "alert", "application/rss+xml"),
    BodyCase("bogus-charset", "encoding", bogus_charset, "alert", "application/rss+xml"),
    BodyCase("utf8-bom", "encoding", utf8_bom, "alert"),
    BodyCase("utf8-bom-says-utf16", "encoding", utf8_bom_declared_utf16, "alert", "application/rss+xml"),
    BodyCase("utf16-le-bom", "encoding", utf16_le_bom, "alert", "application/rss+xml"),
    BodyCase("utf16-be-no-bom", "encoding", utf16_be_no_bom, "alert", "application/rss+xml"),
    BodyCase("utf32-bom", "encoding", utf32_bom, "alert", "application/rss+xml"),
    BodyCase("double-encoded", "encoding", double_encoded, "alert"),
    BodyCase("invalid-utf8", "encoding", invalid_utf8, "alert"),
    BodyCase("control-characters", "encoding", control_characters, "alert"),
    BodyCase("no-ids", "content", no_ids_titles_dates, "alert"),
    BodyCase("odd-dates", "content", odd_dates, "alert"),
    BodyCase("duplicate-guids", "content", duplicate_guids, "alert"),
    BodyCase("html-in-titles", "content", html_in_titles, "alert"),
    BodyCase("atom-cdata", "content", atom_relative_and_cdata, "alert", "application/atom+xml"),
    BodyCase("truncated", "content", truncated_feed, "alert"),
    BodyCase("html-page", "content", html_page, "not_a_feed", "text/html; charset=utf-8"),
    BodyCase("link-flood", "content", link_flood, "not_a_feed", "text/html"),
    BodyCase("empty-body", "content", empty_body, "not_a_feed"),
    BodyCase("binary-noise", "content", binary_noise, "not_a_feed", "image/jpeg"),
    BodyCase("json-instead", "content", json_feed, "not_a_feed", "application/json"),
)
