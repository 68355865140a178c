"""Alert history: `monitor alerts --since/--rule/--search` over what was raised, with full-text search (FTS5).

Names with hyphens and apostrophes ("al-Haq", "Asa'ib") are searched for as written, never parsed as query
syntax; accents fold ("Ḥizballah" finds "Hizballah"). Real SQLite files in tmp_path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from monitor.cli import main
from monitor.model import Entry, FeedConfig, Hit, Match
from monitor.store import NewEntry, Store, migrations
from tests.test_end_to_end import make_config

NOW = datetime.now(UTC).replace(microsecond=0)
FEED = FeedConfig(url="https://wire.example.org/rss", name="Example Wire", interval=600)

HEADLINES = [
    # (rule, title, matched text, days ago)
    ("aah", "Asa'ib Ahl al-Haq leader warns US forces to leave", "Asa'ib Ahl al-Haq", 0),
    ("kh", "Ḥizballah Brigades statement on disarmament", "Ḥizballah Brigades", 0),
    ("kh", "Kata'ib Hizballah claims drone attack", "Kata'ib Hizballah", 1),
    ("kh", "Kataib Hezbollah denies involvement", "Kataib Hezbollah", 2),
    ("badr", "Badr Organization joins talks", "Badr Organization", 10),
]


def match(rule: str, text: str, title: str) -> Match:
    start = title.index(text)
    hit = Hit(
        term=rule, kind="actor", alias=text, field="title", start=start, end=start + len(text), text=text, score=100
    )
    return Match(rule=rule, severity="high", score=100, hits=(hit,))


def fill(store: Store) -> None:
    """Record one entry with one alert per headline, each raised `days ago` (oldest first, as in real life)."""
    [state] = store.sync_feeds([FEED], NOW - timedelta(days=30))
    for number, (rule, title, text, days) in sorted(enumerate(HEADLINES), key=lambda pair: -pair[1][3]):
        entry = Entry(entry_id=f"id-{number}", title=title, link=f"https://wire.example.org/{number}")
        new = NewEntry(entry=entry, matches=(match(rule, text, title),), alert=True)
        store.record_entries(state.feed_id, [new], now=NOW - timedelta(days=days), route=lambda _m: ("console",))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store holding the HEADLINES' alerts."""
    opened = Store.open(tmp_path / "state" / "monitor.db")
    fill(opened)
    return opened


def titles(found: list[object]) -> list[str]:
    return [alert.title for alert in found]  # type: ignore[attr-defined]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`monitor ARGS` in this process through the real entry point: (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else int(stopped.code is not None)
    out, err = capsys.readouterr()
    return code, out, err


def test_search_finds_names_with_hyphens_and_apostrophes(store: Store) -> None:
    """ "al-Haq" and "Asa'ib" (straight or curly apostrophe) find the alert; they are not FTS syntax errors."""
    wanted = ["Asa'ib Ahl al-Haq leader warns US forces to leave"]
    assert titles(store.search_alerts(text="al-Haq")) == wanted
    assert titles(store.search_alerts(text="Asa'ib")) == wanted
    assert titles(store.search_alerts(text="Asa’ib Ahl")) == wanted
    assert titles(store.search_alerts(text="AL-HAQ leader")) == wanted


def test_search_folds_diacritics_both_ways(store: Store) -> None:
    """ "Ḥizballah" finds "Hizballah" and "Ḥizballah"; plain "hizballah" finds both too; newest first."""
    both = ["Kata'ib Hizballah claims drone attack", "Ḥizballah Brigades statement on disarmament"]
    assert sorted(titles(store.search_alerts(text="Ḥizballah"))) == sorted(both)
    assert titles(store.search_alerts(text="hizballah")) == [both[1], both[0]]


def test_search_is_safe_with_query_syntax(store: Store) -> None:
    """Text that is FTS5 syntax (quotes, NOT, OR, column filters, parentheses, stars) is searched, never parsed."""
    for text in ['"', "NOT", "al-Haq OR", "title:Badr", "(", "*", "NEAR(a b)", "'; DROP TABLE alerts; --", "-"]:
        store.search_alerts(text=text)  # no exception
    assert titles(store.search_alerts(text="title:Badr")) == []
    assert titles(store.search_alerts(text='"Badr Organization"')) == ["Badr Organization joins talks"]
    assert len(store.search_alerts(text="   ")) == len(HEADLINES)  # blank: no text filter


def test_since_and_rule_filters_combine_with_search(store: Store) -> None:
    """--since drops older alerts, --rule keeps the named rules, and both combine with the text search."""
    assert len(store.search_alerts(since=NOW - timedelta(days=3))) == 4
    assert titles(store.search_alerts(rules=["badr"])) == ["Badr Organization joins talks"]
    assert len(store.search_alerts(rules=["kh", "aah"])) == 4
    assert titles(store.search_alerts(since=NOW - timedelta(hours=36), rules=["kh"], text="hizballah")) == [
        "Ḥizballah Brigades statement on disarmament",
        "Kata'ib Hizballah claims drone attack",
    ]
    assert store.search_alerts(rules=["badr"], text="Hizballah") == []


def test_cli_alerts_search_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`monitor alerts --search --since --rule` prints matching alerts as a table or JSON lines."""
    config = make_config(tmp_path, [], [])
    with Store.open(tmp_path / "state" / "monitor.db") as opened:
        fill(opened)
    code, out, err = run_cli(capsys, "--config", str(config), "alerts", "--search", "al-Haq", "--json")
    assert code == 0, err
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["title"].startswith("Asa'ib Ahl al-Haq")
    assert record["rule"] == "aah"
    assert record["matched"] == ["Asa'ib Ahl al-Haq"]

    code, out, _ = run_cli(capsys, "--config", str(config), "alerts", "--since", "36h", "--rule", "kh")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CREATED", "SEVERITY", "RULE", "FEED", "TITLE"]
    assert len(lines) == 3
    assert "Ḥizballah Brigades" in lines[1]

    code, _, err = run_cli(capsys, "--config", str(config), "alerts", "--since", "last tuesday")
    assert code == 2
    assert "--since" in err


def old_database_with_one_alert(path: Path, stop_before: str, title: str, summary: str = "") -> sqlite_utils.Database:
    """A database made by the migrations before `stop_before`, holding one feed, entry, match and alert."""
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before=stop_before)
    db.execute("INSERT INTO feeds (id, config_url, url, name, created_at) VALUES (1, 'u', 'u', 'Old', '2026-01-01')")
    db.execute(
        "INSERT INTO entries (id, feed_id, entry_id, title, summary, first_seen) "
        "VALUES (1, 1, 'e', ?, ?, '2026-01-01T00:00:00Z')",
        [title, summary],
    )
    db.execute(
        "INSERT INTO matches (id, entry_row, rule, severity, score, hits) VALUES (1, 1, 'nujaba', 'high', 100, '[]')"
    )
    db.execute("INSERT INTO alerts (id, match_id, created_at) VALUES (1, 1, '2026-01-01T00:00:00Z')")
    db.conn.commit()
    return db


def test_migration_indexes_alerts_raised_before_it(tmp_path: Path) -> None:
    """Opening a database made before the search index (0003) indexes the alerts it already holds."""
    path = tmp_path / "old.db"
    db = old_database_with_one_alert(path, "0003_daemon_status_and_alert_search", "Ḥarakat al-Nujaba fighters parade")
    assert "alert_search" not in db.table_names()
    db.close()
    with Store.open(path) as store:
        assert titles(store.search_alerts(text="harakat al-Nujaba")) == ["Ḥarakat al-Nujaba fighters parade"]
        assert store.daemon_status() is None


def test_search_finds_summary_text_not_its_markup(tmp_path: Path) -> None:
    """Summaries are stored as published; the search index holds their text (no tags, attributes or scripts)."""
    with Store.open(tmp_path / "monitor.db") as store:
        [state] = store.sync_feeds([FEED], NOW)
        title = "Kataib Hezbollah statement"
        summary = '<p class="lede">Kata&#39;ib <b>Hezbollah</b> spoke.</p><script>trackVisitor()</script>'
        entry = Entry(entry_id="e1", title=title, link="https://wire.example.org/e1", summary=summary)
        new = NewEntry(entry=entry, matches=(match("kh", "Kataib Hezbollah", title),), alert=True)
        store.record_entries(state.feed_id, [new], now=NOW, route=lambda _m: ("console",))
        assert titles(store.search_alerts(text="spoke")) == [title]
        assert titles(store.search_alerts(text="Kata'ib Hezbollah spoke")) == [title]
        for markup in ("trackVisitor", "lede", "class"):
            assert store.search_alerts(text=markup) == []


def test_migration_0004_indexes_the_text_of_summaries_already_indexed(tmp_path: Path) -> None:
    """Alerts indexed with their summary's markup (before 0004) are indexed again as text."""
    path = tmp_path / "old.db"
    summary = "<p>Fighters march</p><script>trackVisitor()</script>"
    db = old_database_with_one_alert(path, "0004_alert_search_indexes_text", "Nujaba parade", summary)
    assert db.execute("SELECT count(*) FROM alert_search WHERE alert_search MATCH 'trackVisitor'").fetchone()[0] == 1
    db.close()
    with Store.open(path) as store:
        assert titles(store.search_alerts(text="Fighters march")) == ["Nujaba parade"]
        assert store.search_alerts(text="trackVisitor") == []
