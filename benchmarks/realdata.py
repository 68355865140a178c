"""The real outlet headlines under ../shared/realfeeds, read at run time (never copied into the repository).

Every row gets a stable id, which is all the repository keeps of it (benchmarks/labels/*.csv):
  - `c<N>`: row N (0-based, header excluded) of datasets/DERIVED_rumca_keyword_headlines_2020_2022_2023.csv;
  - `f:<file>#<N>`: entry N of a raw feed file under rss/ or rss_js_embedded/ (parsed as monitor parses it);
  - `j:<file>#<N>`: entry N of a per-day JSON export under datasets/rumca-js/ (path relative to rumca-js/).
`load_rows()` gives them all, in that order; `feed_xml(rows)` writes rows as one RSS 2.0 document whose
items carry the row id in their guid and link, so `monitor match --json` output maps back to the rows.
Standard library only, so a peer's virtualenv could import it too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared") if Path("/work/shared").is_dir() else ROOT.parent / "shared"
REALFEEDS = SHARED / "realfeeds"
SEEDS_DEV = SHARED / "seeds" / "dev"
HEADLINES_CSV = REALFEEDS / "datasets" / "DERIVED_rumca_keyword_headlines_2020_2022_2023.csv"
RUMCA = REALFEEDS / "datasets" / "rumca-js"
LINK_PREFIX = "https://eval.invalid/row/"
"""Links of the generated feed: LINK_PREFIX + row id (the real links repeat; ids do not)."""


@dataclass(frozen=True)
class Row:
    """One real headline: where it came from, when, and its text."""

    id: str
    source: str  # the outlet's feed URL or the file name
    date: str  # ISO date (YYYY-MM-DD), "" when the entry has none
    title: str
    description: str
    link: str

    @property
    def digest(self) -> str:
        """Eight hex digits of the title: a label file checks it still points at the same headline."""
        return hashlib.sha256(self.title.encode("utf-8")).hexdigest()[:8]


def available() -> bool:
    """Whether ../shared/realfeeds is on this machine (CI has no ../shared: benchmarks then skip)."""
    return HEADLINES_CSV.is_file()


def load_rows(*, csv_only: bool = False) -> list[Row]:
    """Every real headline with its id: the keyword CSV first, then the raw feeds and the JSON exports."""
    rows = list(_csv_rows())
    if not csv_only:
        rows += _feed_rows()
        rows += _json_rows()
    return rows


def _csv_rows() -> Iterable[Row]:
    with HEADLINES_CSV.open(encoding="utf-8", newline="") as handle:
        for number, record in enumerate(csv.DictReader(handle)):
            yield Row(
                id=f"c{number}",
                source=record["feed_url"],
                date=record["date_published"][:10],
                title=record["title"].strip(),
                description=record["description"].strip(),
                link=record["link"],
            )


def _feed_files() -> list[Path]:
    files = sorted((REALFEEDS / "rss").glob("*.xml")) + sorted((REALFEEDS / "rss").glob("*.rss"))
    embedded = REALFEEDS / "rss_js_embedded"
    for script in sorted(embedded.glob("*.js")):
        extracted = script.with_name(script.name[: -len(".js")] + ".extracted.xml")
        files.append(extracted if extracted.is_file() else script)
    return files


def _feed_rows() -> Iterable[Row]:
    import feedparser  # only the feed files need it

    for path in _feed_files():
        data = path.read_bytes()
        if path.suffix == ".js":
            found = re.search(rb"`(.*)`", data, re.DOTALL)
            if found is None:
                continue
            data = found.group(1)
        parsed = feedparser.parse(data.lstrip(), sanitize_html=False, resolve_relative_uris=False)
        for number, entry in enumerate(parsed.entries):
            published = entry.get("published_parsed") or entry.get("updated_parsed")
            yield Row(
                id=f"f:{path.name}#{number}",
                source=path.name,
                date=f"{published.tm_year:04}-{published.tm_mon:02}-{published.tm_mday:02}" if published else "",
                title=_plain(entry.get("title", "")),
                description=_plain(entry.get("summary", "")),
                link=entry.get("link", ""),
            )


def _json_rows() -> Iterable[Row]:
    for path in sorted(RUMCA.rglob("*.json")):
        name = path.relative_to(RUMCA).as_posix()
        for number, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            yield Row(
                id=f"j:{name}#{number}",
                source=record.get("source") or name,
                date=(record.get("date_published") or "")[:10],
                title=_plain(record.get("title") or ""),
                description=_plain(record.get("description") or ""),
                link=record.get("link") or "",
            )


_TAG = re.compile(r"<[^>]*>")


def _plain(text: str) -> str:
    """Markup-free, one-line text (for labelling views and the generated feed)."""
    import html

    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def feed_xml(rows: Sequence[Row], *, title: str = "real headlines") -> bytes:
    """One RSS 2.0 document with an item per row: title, description, date, guid and link from the row id."""
    items = []
    for row in rows:
        link = LINK_PREFIX + row.id
        items.append(
            "<item>"
            f"<title>{escape(row.title)}</title>"
            f"<link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{escape(row.id)}</guid>'
            f"<description>{escape(row.description)}</description>"
            + (f"<pubDate>{_rfc822(row.date)}</pubDate>" if row.date else "")
            + "</item>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://eval.invalid/</link><description>evaluation</description>"
        + "".join(items)
        + "</channel></rss>\n"
    )
    return body.encode("utf-8")


def row_id_of(link: str) -> str | None:
    """The row id a link of `feed_xml` carries, or None for any other link."""
    return link[len(LINK_PREFIX) :] if link.startswith(LINK_PREFIX) else None


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc822(date: str) -> str:
    year, month, day = (int(part) for part in date.split("-"))
    return f"{day:02} {_MONTHS[month - 1]} {year:04} 12:00:00 +0000"


def split_of(row_id: str) -> str:
    """ "tune" or "test": the half of the labelled set a row belongs to (even or odd first byte of its SHA-256)."""
    return "tune" if hashlib.sha256(row_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"
