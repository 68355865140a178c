"""Replay: a changed rule set run over stored entries shows what would alert now and what no longer would.

The entries are stored by the real pipeline (`run --once` against a feed server on 127.0.0.1); replay only reads
the database: nothing is stored or sent.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.match import Matcher
from monitor.replay import parse_since, replay
from monitor.rules import load_rules
from monitor.service import run_once
from monitor.store import Store
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.test_end_to_end import IRRELEVANT, RELEVANT, RULES, make_config
from tests.test_history import run_cli

BADR = "Badr Organization commander meets the prime minister"
STAYS = "Kataib Hezbollah rejects talks with Washington"
BADR_RULES = """
[actors.badr]
name = "Badr Organization"
aliases = ["Badr Organisation"]

[rules.badr]
severity = "medium"
any = ["badr"]
"""


@pytest.fixture
def stored(tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]) -> Path:
    """A database filled by `run --once` with the old rules (Kata'ib Hezbollah only); returns the config path."""
    feed_server.set_feed(
        "/wire.xml",
        rss([item(RELEVANT, guid="1"), item(BADR, guid="2"), item(STAYS, guid="3"), item(IRRELEVANT, guid="4")]),
    )
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [])
    report = asyncio.run(run_once(load_settings(config, env={})))
    assert [outcome.alerts for outcome in report.outcomes] == [2]
    capsys.readouterr()  # the console target printed the two alerts
    new_rules = tmp_path / "new-rules"
    new_rules.mkdir()
    # The changed set: Kata'ib Hezbollah no longer alerts on weapons hand-overs, and Badr is watched.
    (new_rules / "militias.toml").write_text(
        RULES.replace('any = ["kataib-hezbollah"]', 'any = ["kataib-hezbollah"]\nexclude = ["hand over"]')
    )
    (new_rules / "badr.toml").write_text(BADR_RULES)
    return config


def database_counts(path: Path) -> dict[str, int]:
    with Store.open(path) as store:
        return {**store.totals(), **store.delivery_counts()}


def test_replay_shows_new_and_gone_alerts_and_changes_nothing(stored: Path) -> None:
    """The new rules would alert on the Badr entry and no longer on the hand-over one; the database is unchanged."""
    database = stored.parent / "state" / "monitor.db"
    before = database_counts(database)
    ticks: list[None] = []
    with Store.open(database) as store:
        report = replay(
            store,
            Matcher(load_rules(stored.parent / "new-rules")),
            datetime.now(UTC) - timedelta(days=1),
            on_entry=lambda: ticks.append(None),
        )
    assert report.entries == 4
    assert len(ticks) == 4
    assert report.unchanged == 1  # the STAYS entry matches both rule sets
    [new] = report.new
    assert (new.rule, new.title, new.severity, new.matched) == ("badr", BADR, "medium", ("Badr Organization",))
    [gone] = report.gone
    assert (gone.rule, gone.title, gone.alerted) == ("kataib-hezbollah", RELEVANT, True)
    assert database_counts(database) == before


def test_replay_window_excludes_older_entries(stored: Path) -> None:
    """Entries first seen before --since are not replayed."""
    with Store.open(stored.parent / "state" / "monitor.db") as store:
        report = replay(store, Matcher(load_rules(stored.parent / "new-rules")), datetime.now(UTC) + timedelta(hours=1))
    assert report.entries == 0
    assert report.changes == []


def test_cli_replay_json_table_and_summary(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`monitor replay --rules DIR --since 30d` prints the differences (table or JSON) and says nothing was sent."""
    new_rules = str(stored.parent / "new-rules")
    code, out, err = run_cli(
        capsys, "--config", str(stored), "replay", "--rules", new_rules, "--since", "30d", "--json"
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(record["change"], record["rule"]) for record in records] == [
        ("gone", "kataib-hezbollah"),
        ("new", "badr"),
    ]
    assert records[0]["alerted"] is True
    assert "nothing was stored or sent" in err
    assert "1 would alert now and did not, 1 matched then and would not now (1 of them alerted)" in err

    code, out, _ = run_cli(capsys, "--config", str(stored), "replay", "--rules", new_rules)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CHANGE", "RULE", "FEED", "FIRST", "SEEN", "TITLE"]
    assert lines[1].startswith("- no longer (alerted)")
    assert lines[2].startswith("+ would alert")
    assert BADR[:40] in lines[2]

    code, out, err = run_cli(capsys, "--config", str(stored), "replay")  # the configured rules: no difference
    assert code == 0
    assert out == ""
    assert "0 would alert now" in err


def test_parse_since_takes_durations_and_dates() -> None:
    """--since takes "30d", "1h30m", a date (UTC) or a date-time with a zone; anything else is a ValueError."""
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_since("30d", now) == datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    assert parse_since("1h30m", now) == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00+02:00", now) == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a duration"):
        parse_since("last tuesday", now)
