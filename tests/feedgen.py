"""Test fixtures of our own: RSS and Atom documents built from plain dicts (never real outlets' feeds)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


def item(
    title: str,
    *,
    guid: str | None = None,
    link: str | None = None,
    description: str = "",
    published: datetime | None = None,
) -> dict[str, object]:
    """One RSS item; `published` defaults to now so first polls alert on it."""
    return {
        "title": title,
        "guid": guid,
        "link": link,
        "description": description,
        "published": published or datetime.now(UTC),
    }


def rss(items: list[dict[str, object]], *, title: str = "Test Wire", link: str = "https://example.org/") -> bytes:
    """An RSS 2.0 document with the given items."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test feed</description>",
    ]
    for entry in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(str(entry['title']))}</title>")
        if entry.get("link"):
            parts.append(f"<link>{escape(str(entry['link']))}</link>")
        if entry.get("guid"):
            parts.append(f'<guid isPermaLink="false">{escape(str(entry["guid"]))}</guid>')
        if entry.get("description"):
            parts.append(f"<description>{escape(str(entry['description']))}</description>")
        published = entry.get("published")
        if isinstance(published, datetime):
            parts.append(f"<pubDate>{format_datetime(published.astimezone(UTC), usegmt=True)}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def atom(entries: list[dict[str, object]], *, title: str = "Test Atom") -> bytes:
    """An Atom 1.0 document with the given entries (guid -> id, description -> summary)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title><id>urn:test:feed</id><updated>2026-01-01T00:00:00Z</updated>",
    ]
    for entry in entries:
        parts.append("<entry>")
        parts.append(f"<title>{escape(str(entry['title']))}</title>")
        if entry.get("guid"):
            parts.append(f"<id>{escape(str(entry['guid']))}</id>")
        if entry.get("link"):
            parts.append(f'<link href="{escape(str(entry["link"]))}"/>')
        if entry.get("description"):
            parts.append(f"<summary>{escape(str(entry['description']))}</summary>")
        published = entry.get("published")
        if isinstance(published, datetime):
            parts.append(f"<updated>{published.astimezone(UTC).isoformat().replace('+00:00', 'Z')}</updated>")
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode()
