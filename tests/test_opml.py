"""OPML import into monitor.toml and export from it, with subscription lists in the style other readers export.

The OPML files below are written for these tests in the shapes Feedly, Inoreader and Miniflux export (folders as
outer outlines, `text` and `title`, `xmlUrl`/`htmlUrl`, a `category` attribute); the URLs are example hosts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import SourceError
from monitor.opml import parse_opml, render_opml, toml_string
from tests.test_history import run_cli

FEEDLY = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head>
    <title>Analyst subscriptions in feedly Cloud</title>
  </head>
  <body>
    <outline text="Iraq" title="Iraq">
      <outline type="rss" text="Rudaw English" title="Rudaw English"
               xmlUrl="https://rudaw.example.net/rss/english" htmlUrl="https://rudaw.example.net/english"/>
      <outline type="rss" text="Shafaq News" title="Shafaq News"
               xmlUrl="https://shafaq.example.com/en/rss" htmlUrl="https://shafaq.example.com/en"/>
    </outline>
    <outline text="Middle East" title="Middle East">
      <outline type="rss" text="Al-Monitor &quot;Iraq Pulse&quot;" title="Al-Monitor &quot;Iraq Pulse&quot;"
               xmlUrl="https://al-monitor.example.com/rss/iraq.xml" htmlUrl="https://al-monitor.example.com/"/>
      <outline type="rss" text="Wire (already configured)" title="Wire (already configured)"
               xmlUrl="http://WIRE.example.org/feed/" htmlUrl="https://wire.example.org/"/>
    </outline>
  </body>
</opml>
"""

INOREADER = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head>
    <title>Subscriptions of analyst from Inoreader [https://www.inoreader.com]</title>
  </head>
  <body>
    <outline text="Think tanks" title="Think tanks">
      <outline text="Long War Journal" title="Long War Journal" type="rss"
               xmlUrl="https://lwj.example.org/feed" htmlUrl="https://lwj.example.org"/>
      <outline text="Washington Institute — Fikra" title="Fikra Forum" type="rss"
               xmlUrl="https://wi.example.org/fikra/rss.xml" htmlUrl="https://wi.example.org/fikra"/>
    </outline>
    <outline text="Arabic" title="Arabic">
      <outline text="الجزيرة نت" title="الجزيرة نت" type="rss"
               xmlUrl="https://aljazeera.example.net/ar/rss" htmlUrl="https://aljazeera.example.net/ar"/>
    </outline>
    <outline text="Rudaw English (again)" title="Rudaw English (again)" type="rss"
             xmlUrl="https://rudaw.example.net/rss/english" htmlUrl="https://rudaw.example.net/english"/>
  </body>
</opml>
"""

MINIFLUX = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head>
    <title>Miniflux</title>
    <dateCreated>Mon, 24 Nov 2026 18:00:00 UTC</dateCreated>
  </head>
  <body>
    <outline text="Security">
      <outline text="Nested: Militias">
        <outline title="Militia Watch" text="Militia Watch" xmlUrl="feed://militia-watch.example.org/atom.xml"
                 htmlUrl="https://militia-watch.example.org/" description="A blog about PMF factions"></outline>
      </outline>
    </outline>
    <outline title="Only a title" xmlUrl="https://only-title.example.org/rss" category="/News/Briefs"></outline>
    <outline text="Newsletter by mail" xmlUrl="mailto:briefing@example.org"></outline>
    <outline text="An empty folder"></outline>
  </body>
</opml>
"""

CONFIG = """# monitor.toml of the analysts' desk
database = "state/monitor.db"   # next to this file
rules = "rules"

[fetch]
deadline = "30s"

# The wire we started with.
[[feeds]]
name = "Wire"
url = "https://wire.example.org/feed"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A commented monitor.toml with one feed and a rules directory."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text('[actors.a]\nname = "Badr"\n[rules.a]\nany = ["a"]\n')
    path = tmp_path / "monitor.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def feeds_of(config: Path) -> list[tuple[str, str, str]]:
    return [(feed.name, feed.url, feed.category) for feed in load_settings(config, env={}).feeds]


def test_parse_reads_folders_titles_and_urls_of_other_readers() -> None:
    """Feeds come with their folder path as category, `text` (else `title`) as name, and xmlUrl/htmlUrl."""
    feedly = parse_opml(FEEDLY.encode(), "feedly.opml")
    assert [(feed.title, feed.category) for feed in feedly] == [
        ("Rudaw English", "Iraq"),
        ("Shafaq News", "Iraq"),
        ('Al-Monitor "Iraq Pulse"', "Middle East"),
        ("Wire (already configured)", "Middle East"),
    ]
    assert feedly[0].html_url == "https://rudaw.example.net/english"
    inoreader = parse_opml(INOREADER.encode(), "inoreader.opml")
    assert [(feed.title, feed.category) for feed in inoreader] == [
        ("Long War Journal", "Think tanks"),
        ("Washington Institute — Fikra", "Think tanks"),
        ("الجزيرة نت", "Arabic"),
        ("Rudaw English (again)", ""),
    ]
    miniflux = parse_opml(MINIFLUX.encode(), "miniflux.opml")
    assert [(feed.title, feed.url, feed.category) for feed in miniflux] == [
        ("Militia Watch", "feed://militia-watch.example.org/atom.xml", "Security/Nested: Militias"),
        ("Only a title", "https://only-title.example.org/rss", "News/Briefs"),
        ("Newsletter by mail", "mailto:briefing@example.org", ""),
    ]


def test_import_appends_new_feeds_keeps_comments_and_skips_duplicates(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`feeds import` appends [[feeds]] for new URLs only, keeps the file's text, and a second import adds nothing."""
    feedly = write(tmp_path, "feedly.opml", FEEDLY)
    code, out, err = run_cli(capsys, "--config", str(config), "feeds", "import", str(feedly))
    assert code == 0, err
    assert "added 3 feeds" in out
    assert "1 already configured" in out
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)  # comments and layout untouched
    assert "# Imported from feedly.opml on " in text
    assert feeds_of(config) == [
        ("Wire", "https://wire.example.org/feed", ""),
        ("Rudaw English", "https://rudaw.example.net/rss/english", "Iraq"),
        ("Shafaq News", "https://shafaq.example.com/en/rss", "Iraq"),
        ('Al-Monitor "Iraq Pulse"', "https://al-monitor.example.com/rss/iraq.xml", "Middle East"),
    ]

    code, out, _ = run_cli(capsys, "--config", str(config), "feeds", "import", str(feedly))
    assert code == 0
    assert "added 0 feeds" in out
    assert config.read_text(encoding="utf-8") == text

    miniflux = write(tmp_path, "miniflux.opml", MINIFLUX)
    code, out, err = run_cli(capsys, "--config", str(config), "feeds", "import", str(miniflux))
    assert code == 0
    assert "added 2 feeds" in out
    assert "'Newsletter by mail' <mailto:briefing@example.org>: not an http(s) URL" in err
    assert ("Militia Watch", "http://militia-watch.example.org/atom.xml", "Security/Nested: Militias") in feeds_of(
        config
    )


def test_dry_run_prints_toml_and_leaves_the_file_alone(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`feeds import --dry-run` prints the [[feeds]] tables on stdout and changes nothing."""
    inoreader = write(tmp_path, "inoreader.opml", INOREADER)
    code, out, err = run_cli(capsys, "--config", str(config), "feeds", "import", "--dry-run", str(inoreader))
    assert code == 0
    assert config.read_text(encoding="utf-8") == CONFIG
    assert "would add 4 feeds" in err
    assert out.count("[[feeds]]") == 4
    assert 'name = "الجزيرة نت"' in out
    assert 'category = "Arabic"' in out


def test_export_then_import_round_trips_names_urls_and_folders(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Feeds imported from two readers, exported as OPML and imported into an empty config come back the same."""
    run_cli(capsys, "--config", str(config), "feeds", "import", str(write(tmp_path, "a.opml", FEEDLY)))
    run_cli(capsys, "--config", str(config), "feeds", "import", str(write(tmp_path, "b.opml", INOREADER)))
    code, exported, err = run_cli(capsys, "--config", str(config), "feeds", "export")
    assert code == 0, err
    assert exported.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert '<outline text="Think tanks" title="Think tanks">' in exported
    assert 'xmlUrl="https://al-monitor.example.com/rss/iraq.xml"' in exported

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "rules").mkdir()
    (fresh / "rules" / "r.toml").write_text((tmp_path / "rules" / "r.toml").read_text())
    empty = fresh / "monitor.toml"
    empty.write_text('rules = "rules"\n')
    code, out, err = run_cli(capsys, "--config", str(empty), "feeds", "import", str(write(fresh, "x.opml", exported)))
    assert code == 0, err
    assert "added 7 feeds" in out
    assert sorted(feeds_of(empty)) == sorted(feeds_of(config))


def test_import_that_would_break_the_config_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config whose feeds are an inline array cannot take [[feeds]]: exit 2, one line, file unchanged."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text('[actors.a]\nname = "Badr"\n[rules.a]\nany = ["a"]\n')
    config = tmp_path / "monitor.toml"
    original = 'rules = "rules"\nfeeds = [{ url = "https://wire.example.org/feed" }]\n'
    config.write_text(original)
    code, _, err = run_cli(capsys, "--config", str(config), "feeds", "import", str(write(tmp_path, "f.opml", FEEDLY)))
    assert code == 2
    [line] = err.strip().splitlines()
    assert f"the feeds cannot be appended to {config}" in line
    assert config.read_text() == original
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (b"<opml><body><outline", "not valid XML"),
        (b"<rss version='2.0'><channel/></rss>", "not an OPML file (the root element is <rss>)"),
        (b'<!DOCTYPE opml [<!ENTITY x "y">]><opml><body/></opml>', "declares XML entities"),
        (b"<opml version='2.0'><head/></opml>", "OPML without a <body>"),
    ],
)
def test_bad_opml_is_a_one_line_error(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], document: bytes, words: str
) -> None:
    """Malformed, non-OPML or entity-declaring files are refused with one line naming the file, exit 1."""
    path = tmp_path / "bad.opml"
    path.write_bytes(document)
    with pytest.raises(SourceError, match=r"bad\.opml"):
        parse_opml(document, str(path))
    code, _, err = run_cli(capsys, "--config", str(config), "feeds", "import", str(path))
    assert code == 1
    [line] = err.strip().splitlines()
    assert words in line
    assert config.read_text(encoding="utf-8") == CONFIG


def test_render_nests_categories_and_toml_strings_escape_everything() -> None:
    """Export nests "a/b" categories as folders; names with quotes, backslashes and controls survive TOML."""
    from monitor.model import FeedConfig

    feeds = [
        FeedConfig(url="https://a.example.org/rss", name="A", interval=600, category="Security/Militias"),
        FeedConfig(url="https://b.example.org/rss", name="B", interval=600, category="Security"),
        FeedConfig(url="https://c.example.org/rss", name="C & <D>", interval=600),
    ]
    text = render_opml(feeds, title="t", now=datetime(2026, 11, 24, tzinfo=UTC))
    assert [(feed.title, feed.category) for feed in parse_opml(text.encode(), "x")] == [
        ("A", "Security/Militias"),
        ("B", "Security"),
        ("C & <D>", ""),
    ]
    assert "<dateCreated>Tue, 24 Nov 2026 00:00:00 GMT</dateCreated>" in text
    import tomllib

    for value in ['say "hi"', "back\\slash", "tab\there", "bell\x07", "del\x7f", "عربي"]:
        assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value
