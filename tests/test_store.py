"""Tests of monitor.store against real SQLite files in tmp_path (and a second process for WAL reads)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.model import Entry, FeedConfig, Hit, Match
from monitor.store import MIGRATION_NAMES, TEXT_CAP, NewEntry, RecordResult, Store

NOW = datetime(2026, 11, 24, 19, 0, 0, tzinfo=UTC)
FEED = FeedConfig(url="https://news.example/feed.xml", name="Example News", interval=600)
OTHER_FEED = FeedConfig(url="https://other.example/rss", name="Other", interval=900)


def entry(
    n: int,
    *,
    entry_id: str | None = None,
    link: str | None = None,
    summary: str = "",
    content: str = "",
    published: datetime | None = None,
) -> Entry:
    """An entry numbered `n`; id and link derive from `n` unless given."""
    return Entry(
        entry_id=entry_id if entry_id is not None else f"urn:entry:{n}",
        title=f"Headline {n}",
        link=link if link is not None else f"https://news.example/story/{n}",
        summary=summary,
        content=content,
        published=published,
    )


def match(rule: str = "kataib-hezbollah", *, severity: str = "high", targets: tuple[str, ...] = ()) -> Match:
    """A match with two hits, one fuzzy, one in Arabic."""
    return Match(
        rule=rule,
        severity=severity,
        score=91.5,
        hits=(
            Hit("kataib-hezbollah", "actor", "Kata'ib Hizballah", "title", 0, 17, "Kataib Hizbalah", 91.5),
            Hit("kataib-hezbollah", "actor", "كتائب حزب الله", "summary", 4, 18, "كتائب حزب الله", 100.0),
        ),
        targets=targets,
    )


def everyone(_match: Match) -> list[str]:
    """Route every match to the two test targets."""
    return ["mail", "slack"]


def count(store: Store, table: str) -> int:
    """Rows in `table`."""
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in tmp_path/state/monitor.db (the state directory does not exist yet)."""
    opened = Store.open(tmp_path / "state" / "monitor.db")
    yield opened
    opened.close()


@pytest.fixture
def feed_id(store: Store) -> int:
    """The id of FEED, synced into the store."""
    return store.sync_feeds([FEED], NOW)[0].feed_id


# -- opening, schema, WAL ------------------------------------------------------------------------------------


def test_open_creates_parent_directories_and_schema(tmp_path: Path) -> None:
    """Opening a new path creates its directories, every table and index, and records the migrations."""
    path = tmp_path / "a" / "b" / "monitor.db"
    with Store.open(path) as store:
        assert path.exists()
        assert {"feeds", "entries", "matches", "alerts", "deliveries"} <= set(store.db.table_names())
        indexes = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"entries_by_link", "deliveries_due"} <= indexes
        assert store.schema_version == len(MIGRATION_NAMES) >= 1


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    """Reopening keeps the data, applies no migration twice and reports the same schema version."""
    path = tmp_path / "monitor.db"
    with Store.open(path) as store:
        store.sync_feeds([FEED], NOW)
        version = store.schema_version
    for _ in range(2):
        with Store.open(path) as store:
            assert store.schema_version == version
            assert count(store, "_sqlite_migrations") == version
            assert [state.name for state in store.feed_states()] == ["Example News"]


def test_wal_and_foreign_keys_are_on(store: Store) -> None:
    """The file is in WAL mode (seen from another connection too) and foreign keys are enforced."""
    assert store.journal_mode == "wal"
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.record_entries(999, [NewEntry(entry(1), (), alert=False)], now=NOW, route=everyone)


def test_database_from_a_newer_monitor_is_refused(tmp_path: Path) -> None:
    """A database with a migration this code does not know raises StoreError instead of being used."""
    path = tmp_path / "monitor.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('monitor', '0099_future', 'x')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer monitor") as caught:
        Store.open(path)
    assert caught.value.location == str(path)


def test_open_under_a_regular_file_raises_store_error(tmp_path: Path) -> None:
    """A database path whose parent is a regular file raises StoreError naming the path."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    path = blocker / "monitor.db"
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert str(path) in str(caught.value)


def test_open_a_directory_or_a_non_database_raises_store_error(tmp_path: Path) -> None:
    """A directory, or a file that is not SQLite, given as the database raises StoreError naming it."""
    directory = tmp_path / "dir.db"
    directory.mkdir()
    with pytest.raises(StoreError) as caught:
        Store.open(directory)
    assert str(directory) in str(caught.value)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an SQLite database, just text" * 100)
    with pytest.raises(StoreError, match="not a database") as caught:
        Store.open(junk)
    assert str(junk) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_open_in_a_read_only_directory_raises_store_error(tmp_path: Path) -> None:
    """A database path in a directory this user cannot write raises StoreError naming the path."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError) as caught:
            Store.open(locked / "monitor.db")
        assert str(locked / "monitor.db") in str(caught.value)
    finally:
        locked.chmod(0o700)


def test_naive_datetimes_are_refused(store: Store) -> None:
    """A datetime without a timezone is a programming error: ValueError, nothing stored."""
    with pytest.raises(ValueError, match="naive"):
        store.sync_feeds([FEED], datetime(2026, 11, 24, 19, 0))
    assert count(store, "feeds") == 0


# -- feeds -----------------------------------------------------------------------------------------------


def test_sync_feeds_inserts_renames_removes_and_readds(store: Store) -> None:
    """sync_feeds adds new URLs, renames, hides unconfigured feeds (kept) and un-removes re-added ones."""
    states = store.sync_feeds([FEED, OTHER_FEED], NOW)
    assert [(s.config_url, s.url, s.name) for s in states] == [
        (FEED.url, FEED.url, "Example News"),
        (OTHER_FEED.url, OTHER_FEED.url, "Other"),
    ]
    assert (states[0].next_check, states[0].error_count, states[0].disabled) == (None, 0, False)

    renamed = FeedConfig(url=FEED.url, name="Example (renamed)", interval=60)
    states = store.sync_feeds([renamed], NOW)
    assert [(s.feed_id, s.name) for s in states] == [(states[0].feed_id, "Example (renamed)")]
    assert [s.config_url for s in store.feed_states()] == [FEED.url]
    everything = store.feed_states(include_removed=True)
    assert [(s.config_url, s.removed) for s in everything] == [(FEED.url, False), (OTHER_FEED.url, True)]
    assert store.feed_state(OTHER_FEED.url).removed

    other_id = everything[1].feed_id
    states = store.sync_feeds([OTHER_FEED, renamed], NOW)
    assert [(s.config_url, s.feed_id, s.removed) for s in states] == [
        (OTHER_FEED.url, other_id, False),
        (FEED.url, states[1].feed_id, False),
    ]
    assert count(store, "feeds") == 2


def test_feed_state_of_an_unknown_url_raises_key_error(store: Store) -> None:
    """feed_state of a URL never synced raises KeyError."""
    with pytest.raises(KeyError):
        store.feed_state("https://nowhere.example/feed")


def test_save_fetch_ok_stores_validators_and_redirected_url(store: Store, feed_id: int) -> None:
    """A successful poll stores URL, validators, hash, times, and ends the error streak."""
    store.save_fetch_error(feed_id, now=NOW, error="timeout", next_check=NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=5, microseconds=250)
    store.save_fetch_ok(
        feed_id,
        now=later,
        url="https://news.example/new-feed.xml",
        etag='W/"abc"',
        last_modified="Tue, 24 Nov 2026 18:59:00 GMT",
        body_hash="sha256:00ff",
        next_check=later + timedelta(minutes=10),
    )
    state = store.feed_state(FEED.url)
    assert state.url == "https://news.example/new-feed.xml"
    assert state.config_url == FEED.url
    assert (state.etag, state.last_modified, state.body_hash) == (
        'W/"abc"',
        "Tue, 24 Nov 2026 18:59:00 GMT",
        "sha256:00ff",
    )
    assert state.error_count == 0
    assert state.last_success == state.last_polled == NOW + timedelta(minutes=5)
    assert state.next_check == NOW + timedelta(minutes=15)
    assert state.next_check is not None
    assert state.next_check.tzinfo is not None
    assert state.last_error == "timeout"  # kept for history; last_error_at says when
    raw = store.db.execute("SELECT last_success FROM feeds WHERE id = ?", [feed_id]).fetchone()[0]
    assert raw == "2026-11-24T19:05:00Z"


def test_save_fetch_error_counts_and_disables(store: Store, feed_id: int) -> None:
    """Failed polls count up with the last error; disable=True (410) disables; enable_feed undoes it."""
    store.save_fetch_error(feed_id, now=NOW, error="connection refused", next_check=NOW + timedelta(minutes=1))
    state = store.feed_state(FEED.url)
    assert (state.error_count, state.last_error, state.last_error_at) == (1, "connection refused", NOW)
    assert not state.disabled
    store.save_fetch_error(
        feed_id,
        now=NOW + timedelta(minutes=1),
        error="410 Gone",
        next_check=NOW + timedelta(days=1),
        disable=True,
    )
    store.save_fetch_error(feed_id, now=NOW + timedelta(minutes=2), error="again", next_check=NOW)
    state = store.feed_state(FEED.url)
    assert (state.error_count, state.last_error, state.disabled) == (3, "again", True)
    store.enable_feed(feed_id)
    state = store.feed_state(FEED.url)
    assert (state.disabled, state.error_count, state.next_check) == (False, 0, None)
    with pytest.raises(KeyError):
        store.save_fetch_error(12345, now=NOW, error="x", next_check=NOW)


# -- unseen and record_entries ---------------------------------------------------------------------------


def test_unseen_by_entry_id(store: Store, feed_id: int) -> None:
    """Entries whose id is stored for this feed are seen; the same id in another feed is not."""
    store.record_entries(feed_id, [NewEntry(entry(1), (), alert=False)], now=NOW, route=everyone)
    other_id = store.sync_feeds([FEED, OTHER_FEED], NOW)[1].feed_id
    batch = [entry(1, link="https://news.example/moved"), entry(2)]
    assert store.unseen(feed_id, batch) == [entry(2)]
    assert store.unseen(other_id, batch) == batch
    assert store.feed_state(FEED.url).entries_seen == 1


def test_unseen_by_link_when_the_guid_changes(store: Store, feed_id: int) -> None:
    """An entry with a new guid but a stored link is seen; an empty link never makes an entry seen."""
    store.record_entries(
        feed_id,
        [
            NewEntry(entry(1, entry_id="guid-fetch-1"), (), alert=False),
            NewEntry(entry(2, link=""), (), alert=False),
        ],
        now=NOW,
        route=everyone,
    )
    batch = [entry(1, entry_id="guid-fetch-2"), entry(3, link=""), entry(4)]
    assert store.unseen(feed_id, batch) == [entry(3, link=""), entry(4)]


def test_unseen_drops_duplicates_inside_a_batch(store: Store, feed_id: int) -> None:
    """Within one batch, a repeated id or a repeated non-empty link is dropped; the first one wins."""
    first = entry(1)
    same_id = entry(1, link="https://news.example/elsewhere")
    same_link = entry(2, link=first.link)
    no_link_a, no_link_b = entry(3, link=""), entry(4, link="")
    batch = [first, same_id, same_link, no_link_a, no_link_b]
    assert store.unseen(feed_id, batch) == [first, no_link_a, no_link_b]
    result = store.record_entries(feed_id, [NewEntry(e, (), alert=False) for e in batch], now=NOW, route=everyone)
    assert result.entries == 3


def test_record_entries_is_all_or_nothing(store: Store, feed_id: int) -> None:
    """If route() raises on the second entry, the first entry and its alert are rolled back too."""

    def failing_route(m: Match) -> list[str]:
        if m.rule == "second":
            raise RuntimeError("routing exploded")
        return ["mail"]

    batch = [
        NewEntry(entry(1), (match("first"),), alert=True),
        NewEntry(entry(2), (match("second"),), alert=True),
    ]
    with pytest.raises(RuntimeError, match="routing exploded"):
        store.record_entries(feed_id, batch, now=NOW, route=failing_route)
    for table in ("entries", "matches", "alerts", "deliveries"):
        assert count(store, table) == 0, table
    assert not store.db.conn.in_transaction
    result = store.record_entries(feed_id, batch[:1], now=NOW, route=failing_route)
    assert result == RecordResult(entries=1, alerts=1, deliveries=1)


def test_the_same_entry_is_recorded_once(store: Store, feed_id: int) -> None:
    """Recording an entry again (same id, or same link under a new guid) inserts nothing and alerts once."""
    new = NewEntry(entry(1), (match(),), alert=True)
    assert store.record_entries(feed_id, [new], now=NOW, route=everyone) == RecordResult(1, 1, 2)
    assert store.record_entries(feed_id, [new], now=NOW, route=everyone) == RecordResult(0, 0, 0)
    moved_guid = NewEntry(entry(1, entry_id="urn:other"), (match(),), alert=True)
    assert store.record_entries(feed_id, [moved_guid], now=NOW, route=everyone) == RecordResult(0, 0, 0)
    assert (count(store, "entries"), count(store, "alerts"), count(store, "deliveries")) == (1, 1, 2)


def test_alert_false_records_entry_and_matches_without_alerts(store: Store, feed_id: int) -> None:
    """alert=False (backfill) stores the entry and its matches but creates no alert or delivery."""
    result = store.record_entries(
        feed_id, [NewEntry(entry(1), (match("a"), match("b")), alert=False)], now=NOW, route=everyone
    )
    assert result == RecordResult(entries=1, alerts=0, deliveries=0)
    assert (count(store, "matches"), count(store, "alerts"), count(store, "deliveries")) == (2, 0, 0)
    assert store.pending_deliveries(NOW) == []


def test_deliveries_follow_route_per_match(store: Store, feed_id: int) -> None:
    """Each alert gets one pending delivery per distinct target route() names; none for an empty route."""
    routes = {"urgent": ["mail", "slack", "mail"], "quiet": [], "digest": ["mail"]}
    result = store.record_entries(
        feed_id,
        [NewEntry(entry(1), (match("urgent"), match("quiet"), match("digest")), alert=True)],
        now=NOW,
        route=lambda m: routes[m.rule],
    )
    assert result == RecordResult(entries=1, alerts=3, deliveries=3)
    rows = store.db.execute(
        """
        SELECT matches.rule, deliveries.target, deliveries.status, deliveries.attempts,
            deliveries.next_attempt
        FROM deliveries
        JOIN alerts ON alerts.id = deliveries.alert_id
        JOIN matches ON matches.id = alerts.match_id
        ORDER BY deliveries.id
        """
    ).fetchall()
    stamp = "2026-11-24T19:00:00Z"
    assert rows == [
        ("urgent", "mail", "pending", 0, stamp),
        ("urgent", "slack", "pending", 0, stamp),
        ("digest", "mail", "pending", 0, stamp),
    ]
    assert [d.target for d in store.pending_deliveries(NOW, target="mail")] == ["mail", "mail"]


def test_long_texts_are_capped(store: Store, feed_id: int) -> None:
    """Summary and content are stored cut to TEXT_CAP bytes of UTF-8, never inside a character."""
    huge = "é" * TEXT_CAP  # two bytes each: twice the cap
    store.record_entries(
        feed_id,
        [NewEntry(entry(1, summary=huge, content="x" * (TEXT_CAP + 10)), (match(),), alert=True)],
        now=NOW,
        route=everyone,
    )
    summary, content = store.db.execute("SELECT summary, content FROM entries").fetchone()
    assert summary == "é" * (TEXT_CAP // 2)
    assert len(content.encode()) == TEXT_CAP
    assert store.pending_deliveries(NOW)[0].alert.summary == summary


# -- deliveries ----------------------------------------------------------------------------------------------


def _queue_two_alerts(store: Store, feed_id: int) -> None:
    """Two entries, each with one alert going to mail and slack (four deliveries)."""
    published = datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
    store.record_entries(
        feed_id,
        [
            NewEntry(entry(1, summary="KH statement", published=published), (match("one"),), alert=True),
            NewEntry(entry(2), (match("two", severity="critical"),), alert=True),
        ],
        now=NOW,
        route=everyone,
    )


def test_pending_deliveries_carry_full_alerts(store: Store, feed_id: int) -> None:
    """pending_deliveries returns due deliveries oldest first, each with a fully filled Alert."""
    _queue_two_alerts(store, feed_id)
    assert store.pending_deliveries(NOW - timedelta(seconds=1)) == []
    pending = store.pending_deliveries(NOW + timedelta(microseconds=999))
    assert [(p.alert.rule, p.target, p.attempts) for p in pending] == [
        ("one", "mail", 0),
        ("one", "slack", 0),
        ("two", "mail", 0),
        ("two", "slack", 0),
    ]
    alert = pending[0].alert
    assert alert.severity == "high"
    assert (alert.title, alert.link, alert.summary) == (
        "Headline 1",
        "https://news.example/story/1",
        "KH statement",
    )
    assert alert.feed_name == "Example News"
    assert alert.published == datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
    assert alert.created_at == NOW
    assert alert.matched == ("Kataib Hizbalah", "كتائب حزب الله")
    assert pending[2].alert.published is None
    assert [p.delivery_id for p in store.pending_deliveries(NOW, limit=2)] == [p.delivery_id for p in pending[:2]]


def test_claims_keep_a_delivery_to_one_store_until_released_or_lapsed(
    store: Store, feed_id: int, tmp_path: Path
) -> None:
    """Two stores on one file: what one claimed the other cannot claim (it counts it as held elsewhere) until
    the claim is released, marked, or lapses; a renewal by a store that lost its claim says so."""
    _queue_two_alerts(store, feed_id)
    other = Store.open(tmp_path / "state" / "monitor.db")
    try:
        mine = store.claim_deliveries(NOW, lease=60)
        assert [p.alert.rule for p in mine.deliveries] == ["one", "one", "two", "two"]
        theirs = other.claim_deliveries(NOW, lease=60)
        assert (theirs.deliveries, theirs.held_elsewhere) == ([], 4)
        first, second = mine.deliveries[0].delivery_id, mine.deliveries[1].delivery_id
        store.mark_delivered(first, NOW)
        store.release_claims([second])
        assert [p.delivery_id for p in other.claim_deliveries(NOW, lease=60).deliveries] == [second]
        assert store.renew_claims([second], NOW, 60) == set()  # lost to the other store: do not send it
        later = NOW + timedelta(seconds=61)  # every claim lapses: the three undelivered are free again
        assert len(other.claim_deliveries(later, lease=60).deliveries) == 3
        assert store.next_delivery_due(later) == later + timedelta(seconds=60)  # all three claimed again
    finally:
        other.close()


def test_claims_of_a_process_that_is_gone_are_void_at_once(store: Store, feed_id: int) -> None:
    """A claim held by a process of this host that no longer exists does not wait for its lease to lapse."""
    _queue_two_alerts(store, feed_id)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True)
    owner = f"{socket.gethostname()}/{int(gone.stdout)}/dead"
    store.db.execute("UPDATE deliveries SET claimed_by = ?, claimed_until = ?", [owner, "2099-01-01T00:00:00Z"])
    store.db.conn.commit()
    assert len(store.claim_deliveries(NOW, lease=60).deliveries) == 4


def test_hits_round_trip_through_json(store: Store, feed_id: int) -> None:
    """Hits stored as JSON come back as equal Hit objects, Arabic stored readably (not \\u escapes)."""
    original = match()
    store.record_entries(feed_id, [NewEntry(entry(1), (original,), alert=True)], now=NOW, route=everyone)
    assert store.pending_deliveries(NOW)[0].alert.hits == original.hits
    assert store.recent_alerts()[0].hits == original.hits
    stored = store.db.execute("SELECT hits FROM matches").fetchone()[0]
    assert "كتائب" in stored
    assert store.db.execute("SELECT json_extract(hits, '$[0].score') FROM matches").fetchone()[0] == 91.5


def test_mark_delivered_and_counts(store: Store, feed_id: int) -> None:
    """A delivered delivery leaves the pending list and is counted as delivered."""
    _queue_two_alerts(store, feed_id)
    first = store.pending_deliveries(NOW)[0]
    store.mark_delivered(first.delivery_id, NOW + timedelta(seconds=3))
    assert first.delivery_id not in [p.delivery_id for p in store.pending_deliveries(NOW + timedelta(hours=1))]
    assert store.delivery_counts() == {"pending": 3, "delivered": 1, "dead": 0}
    row = store.db.execute(
        "SELECT status, attempts, delivered_at FROM deliveries WHERE id = ?", [first.delivery_id]
    ).fetchone()
    assert row == ("delivered", 1, "2026-11-24T19:00:03Z")
    with pytest.raises(KeyError):
        store.mark_delivered(999, NOW)


def test_mark_failed_retries_later_and_dead_stops(store: Store, feed_id: int) -> None:
    """A failed delivery counts the attempt and returns only once next_attempt is due; dead never returns."""
    _queue_two_alerts(store, feed_id)
    first, second, third, fourth = store.pending_deliveries(NOW)
    retry_at = NOW + timedelta(minutes=5)
    store.mark_failed(first.delivery_id, NOW, "SMTP 451 try later", retry_at)
    store.mark_failed(second.delivery_id, NOW, "HTTP 404 from webhook", NOW, dead=True)
    assert [p.delivery_id for p in store.pending_deliveries(NOW)] == [third.delivery_id, fourth.delivery_id]
    assert [p.delivery_id for p in store.pending_deliveries(retry_at - timedelta(seconds=1))] == [
        third.delivery_id,
        fourth.delivery_id,
    ]
    due = store.pending_deliveries(retry_at)
    assert [p.delivery_id for p in due] == [first.delivery_id, third.delivery_id, fourth.delivery_id]
    assert due[0].attempts == 1  # oldest first, even after a retry
    assert second.delivery_id not in [p.delivery_id for p in store.pending_deliveries(NOW + timedelta(days=9))]
    assert store.delivery_counts() == {"pending": 3, "delivered": 0, "dead": 1}
    last_error = store.db.execute("SELECT last_error FROM deliveries WHERE id = ?", [second.delivery_id])
    assert last_error.fetchone()[0] == "HTTP 404 from webhook"


def test_recent_alerts_newest_first(store: Store, feed_id: int) -> None:
    """recent_alerts lists alerts newest first, up to the limit."""
    _queue_two_alerts(store, feed_id)
    assert [a.rule for a in store.recent_alerts()] == ["two", "one"]
    assert [a.rule for a in store.recent_alerts(limit=1)] == ["two"]


# -- a second process --------------------------------------------------------------------------------------

_READER = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=0)  # no busy waiting: a lock would be an error at once
reads = errors = 0
print("ready", flush=True)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        conn.execute("SELECT count(*) FROM entries").fetchone()
        conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall()
        reads += 1
    except sqlite3.Error as error:
        errors += 1
        print(error, file=sys.stderr)
print(reads, errors, conn.execute("SELECT count(*) FROM entries").fetchone()[0])
"""


def test_another_process_reads_while_we_write(store: Store, feed_id: int) -> None:
    """A second process reading without any busy timeout never errors while we write (WAL)."""
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(store.path), "0.6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "ready"
    writes = 0
    while reader.poll() is None and writes < 5000:
        store.record_entries(feed_id, [NewEntry(entry(writes), (match(),), alert=True)], now=NOW, route=everyone)
        writes += 1
    output, errors = reader.communicate(timeout=10)
    reads, failed, _ = (int(field) for field in output.split())
    assert (failed, errors) == (0, "")
    assert reads > 0
    assert writes > 0


def test_another_process_reads_during_an_open_write_transaction(store: Store, feed_id: int) -> None:
    """While a write transaction is open, another process reads the last committed state at once."""
    store.record_entries(feed_id, [NewEntry(entry(1), (), alert=False)], now=NOW, route=everyone)
    store.db.execute("BEGIN IMMEDIATE")
    try:
        store.db.execute(
            "INSERT INTO entries (feed_id, entry_id, first_seen) VALUES (?, 'uncommitted', 'x')", [feed_id]
        )
        done = subprocess.run(
            [sys.executable, "-c", _READER, str(store.path), "0"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    finally:
        store.db.rollback()
    _ready, _reads, errors, committed = done.stdout.split()
    assert (errors, committed) == ("0", "1")  # no error, and only the committed entry is visible


def test_writes_wait_for_another_writer(store: Store, feed_id: int) -> None:
    """A read-then-write transaction waits for another process's write instead of failing as stale."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "conn.execute('BEGIN IMMEDIATE')\n"
            "conn.execute(\"UPDATE feeds SET name = 'renamed elsewhere'\")\n"
            "print('locked', flush=True)\n"
            "time.sleep(0.3)\n"
            "conn.execute('COMMIT')\n",
            str(store.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    result = store.record_entries(feed_id, [NewEntry(entry(1), (match(),), alert=True)], now=NOW, route=everyone)
    assert time.monotonic() - started >= 0.1
    holder.communicate(timeout=10)
    assert holder.returncode == 0
    assert result == RecordResult(entries=1, alerts=1, deliveries=2)
    assert store.feed_state(FEED.url).name == "renamed elsewhere"
