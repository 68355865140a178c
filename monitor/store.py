"""The monitor's memory: the only module with SQL (SQLite through sqlite-utils).

The pipeline asks the store for a feed's state before fetching, hands it the parsed entries to find the
unseen ones, records new entries with their matches and queues their alerts in one transaction, and saves the
feed's new state afterwards. notify reads the queued deliveries and marks them delivered or failed. The layout
is described for people using the sqlite3 shell in docs/database.md.

Rules the code keeps:
- Timestamps are stored as ISO-8601 UTC text, "2026-11-24T19:00:00Z" (whole seconds, so text order is time
  order); the API takes and returns timezone-aware datetimes, and never reads the clock (`now` is passed in).
- Every write runs in one transaction that takes SQLite's write lock up front (BEGIN IMMEDIATE): a deferred
  transaction that reads and then writes fails at once with "database is locked" when another process wrote
  in between, whatever the busy timeout; with the lock taken first, the 30 s busy timeout applies.
- Durability: the WAL is synced to disk (synchronous=FULL) when entries, alerts and deliveries are recorded
  (`record_entries`, `transaction`); the bookkeeping of every other poll (feed state after a 304 or an
  unchanged body, delivery marks) commits with synchronous=NORMAL, safe against a crash of the process but
  not of the machine: a power cut can undo the last few of those commits, which only means a feed polled
  again or a delivery sent again (at-least-once, as documented). Saves an fsync per poll (see
  benchmarks/README.md).
- Any sqlite3 error becomes a StoreError naming the database file.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import socket
import sqlite3
import textwrap
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
from sqlite_utils.migrations import Migrations

from monitor.digest import RuleHistory
from monitor.errors import DaemonReplaced, DatabaseLostError, StoreError
from monitor.model import Alert, Entry, FeedConfig, FeedState, Hit, Match, StoryReport
from monitor.normalize import strip_html
from monitor.redact import feed_display_name
from monitor.stories import Story, StoryKey, find_story, story_key

BUSY_TIMEOUT = 30.0
"""Seconds a statement waits for another process's lock before failing with "database is locked"."""

TEXT_CAP = 64 * 1024
"""Entry summary and content are cut to this many bytes of UTF-8 before storing."""

SHORT_TEXT_CAP = 4 * 1024
"""Entry title and author, and stored error messages, are cut to this many bytes of UTF-8."""

DELIVERY_STATUSES = ("pending", "delivered", "dead")

_SQL_VARIABLES = 400  # values per IN (...) list, well under SQLite's limit on bound variables

migrations = Migrations("monitor")
"""The schema, one function per version; `Store.open` applies the pending ones. Never edit an applied one."""

MIGRATION_NAMES: list[str] = []
"""The names of the schema's migrations, in order; `schema_version` counts the applied ones."""


def _migration(
    name: str,
) -> Callable[[Callable[[sqlite_utils.Database], None]], Callable[[sqlite_utils.Database], None]]:
    MIGRATION_NAMES.append(name)
    return migrations(name=name)


@_migration("0001_initial_schema")
def _initial_schema(db: sqlite_utils.Database) -> None:
    statements = [
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            config_url TEXT NOT NULL UNIQUE,          -- the URL in monitor.toml: the feed's key
            url TEXT NOT NULL,                        -- the URL fetched (differs after a permanent redirect)
            name TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,   -- failed polls in a row
            last_error TEXT,
            last_error_at TEXT,
            last_success TEXT,
            last_polled TEXT,
            next_check TEXT,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),   -- 1: stop polling (410 Gone)
            removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),     -- 1: no longer configured
            created_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            entry_id TEXT NOT NULL,                   -- the feed's guid, else link, else a content hash
            link TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL DEFAULT '',
            published TEXT,
            author TEXT NOT NULL DEFAULT '',
            first_seen TEXT NOT NULL,
            UNIQUE (feed_id, entry_id)
        )
        """,
        "CREATE INDEX entries_by_link ON entries (feed_id, link)",
        """
        CREATE TABLE matches (
            id INTEGER PRIMARY KEY,
            entry_row INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,   -- entries.id
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            score REAL NOT NULL,
            hits TEXT NOT NULL DEFAULT '[]',          -- JSON list of hits
            UNIQUE (entry_row, rule)
        )
        """,
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            match_id INTEGER NOT NULL UNIQUE REFERENCES matches(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
            target TEXT NOT NULL,                     -- a [[targets]] name from monitor.toml
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_attempt_at TEXT,
            next_attempt TEXT NOT NULL,
            delivered_at TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (alert_id, target)
        )
        """,
        "CREATE INDEX deliveries_due ON deliveries (status, next_attempt)",
        """
        CREATE VIEW alert_overview AS
        SELECT alerts.id AS alert_id, alerts.created_at, feeds.name AS feed, matches.rule, matches.severity,
               matches.score, entries.title, entries.link, entries.published
        FROM alerts
        JOIN matches ON matches.id = alerts.match_id
        JOIN entries ON entries.id = matches.entry_row
        JOIN feeds ON feeds.id = entries.feed_id
        """,
    ]
    for statement in statements:
        db.execute(textwrap.dedent(statement).strip())  # dedented, so `.schema` in the shell reads well


@_migration("0002_stories_and_delivery_batches")
def _stories_and_delivery_batches(db: sqlite_utils.Database) -> None:
    """Stories (one alert per story and rule, "also reported by") and held deliveries (digests, quiet hours,
    storm control)."""
    statements = [
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,                      -- the first report's title
            link TEXT NOT NULL DEFAULT '',            -- the first report's link
            first_seen TEXT NOT NULL,                 -- later reports join within the story window from here
            last_seen TEXT NOT NULL                   -- when the latest report joined
        )
        """,
        "CREATE INDEX stories_by_first_seen ON stories (first_seen)",
        "ALTER TABLE entries ADD COLUMN story_id INTEGER REFERENCES stories(id) ON DELETE SET NULL",
        "CREATE INDEX entries_by_story ON entries (story_id)",
        "ALTER TABLE alerts ADD COLUMN story_id INTEGER REFERENCES stories(id) ON DELETE SET NULL",
        "CREATE INDEX alerts_by_story ON alerts (story_id)",
        # NULL: sent on its own; else why it is held and sent in a digest, and until when
        "ALTER TABLE deliveries ADD COLUMN batch TEXT CHECK (batch IN ('digest', 'quiet', 'storm'))",
        "ALTER TABLE deliveries ADD COLUMN held_until TEXT",
        "CREATE INDEX deliveries_by_target ON deliveries (target, status)",
    ]
    for statement in statements:
        db.execute(textwrap.dedent(statement).strip())


@_migration("0003_daemon_status_and_alert_search")
def _daemon_status_and_alert_search(db: sqlite_utils.Database) -> None:
    """The daemon's heartbeat row (`monitor status`) and a full-text index of alerts (`monitor alerts --search`).

    The index is filled by a trigger in the transaction that inserts the alert, so it can never miss one; the
    alerts raised before this migration are indexed here.
    """
    alert_text = """
        SELECT alerts.id, matches.rule, feeds.name, entries.title, entries.summary,
               (SELECT group_concat(json_extract(hit.value, '$.text'), ' ') FROM json_each(matches.hits) AS hit)
        FROM alerts
        JOIN matches ON matches.id = alerts.match_id
        JOIN entries ON entries.id = matches.entry_row
        JOIN feeds ON feeds.id = entries.feed_id
    """
    statements = [
        """
        CREATE TABLE daemon (
            id INTEGER PRIMARY KEY CHECK (id = 1),    -- one row: the daemon that runs (or last ran) on this file
            pid INTEGER NOT NULL,
            hostname TEXT NOT NULL,
            started_at TEXT NOT NULL,
            heartbeat TEXT NOT NULL,                  -- refreshed every heartbeat_every seconds while running
            heartbeat_every REAL NOT NULL,
            stopped_at TEXT,                          -- set by a clean stop
            config TEXT NOT NULL DEFAULT '',          -- the configuration file it runs
            feeds INTEGER NOT NULL DEFAULT 0,         -- feeds configured
            rules INTEGER NOT NULL DEFAULT 0,         -- rules loaded
            rules_loaded_at TEXT,                     -- when the running rule set was loaded
            last_reload_at TEXT,                      -- the last reload attempt (SIGHUP or a file change)
            last_reload_error TEXT,                   -- why it failed; NULL when it succeeded
            last_poll_at TEXT,                        -- when a feed poll last finished
            polls INTEGER NOT NULL DEFAULT 0,         -- polls finished since start
            health TEXT                               -- host:port of the HTTP health endpoint, if any
        )
        """,
        """
        CREATE VIRTUAL TABLE alert_search USING fts5(
            rule, feed, title, summary, matched, tokenize = 'unicode61 remove_diacritics 2'
        )
        """,
        f"""
        CREATE TRIGGER alert_search_insert AFTER INSERT ON alerts BEGIN
            INSERT INTO alert_search (rowid, rule, feed, title, summary, matched)
            {alert_text} WHERE alerts.id = NEW.id;
        END
        """,
        """
        CREATE TRIGGER alert_search_delete AFTER DELETE ON alerts BEGIN
            DELETE FROM alert_search WHERE rowid = OLD.id;
        END
        """,
        f"INSERT INTO alert_search (rowid, rule, feed, title, summary, matched) {alert_text}",
    ]
    for statement in statements:
        db.execute(textwrap.dedent(statement).strip())


@_migration("0004_alert_search_indexes_text")
def _alert_search_indexes_text(db: sqlite_utils.Database) -> None:
    """The search index holds a summary's text, not its markup.

    Summaries are stored as the feed published them (monitor/parse.py); indexed as they are, a search would
    find words of tags, attributes and inline scripts. `monitor_text` (registered on every connection the
    store opens) drops them; the alerts already indexed are indexed again.
    """
    register_functions(db.conn)
    alert_text = """
        SELECT alerts.id, matches.rule, feeds.name, entries.title, monitor_text(entries.summary),
               (SELECT group_concat(json_extract(hit.value, '$.text'), ' ') FROM json_each(matches.hits) AS hit)
        FROM alerts
        JOIN matches ON matches.id = alerts.match_id
        JOIN entries ON entries.id = matches.entry_row
        JOIN feeds ON feeds.id = entries.feed_id
    """
    statements = [
        "DROP TRIGGER alert_search_insert",
        f"""
        CREATE TRIGGER alert_search_insert AFTER INSERT ON alerts BEGIN
            INSERT INTO alert_search (rowid, rule, feed, title, summary, matched)
            {alert_text} WHERE alerts.id = NEW.id;
        END
        """,
        "DELETE FROM alert_search",
        f"INSERT INTO alert_search (rowid, rule, feed, title, summary, matched) {alert_text}",
    ]
    for statement in statements:
        db.execute(textwrap.dedent(statement).strip())


@_migration("0005_delivery_claims")
def _delivery_claims(db: sqlite_utils.Database) -> None:
    """Deliveries are claimed before a send, so two processes on one database never send the same one.

    A claim is the owner (`Store.owner`: host, pid and a random token) and when it lapses; the sender renews it
    while the send runs. The daemon row names its owner too, so a daemon that lost its row to another (it was
    paused past its heartbeat) notices and stops.
    """
    statements = [
        "ALTER TABLE deliveries ADD COLUMN claimed_by TEXT",  # Store.owner of the process sending it, or NULL
        "ALTER TABLE deliveries ADD COLUMN claimed_until TEXT",  # the claim lapses then unless renewed
        "ALTER TABLE daemon ADD COLUMN owner TEXT",
    ]
    for statement in statements:
        db.execute(statement)


def register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions the schema's triggers call: `monitor_text(markup)`, the plain text of an HTML fragment."""
    conn.create_function("monitor_text", 1, _markup_text, deterministic=True)


def _markup_text(markup: object) -> str:
    return " ".join(strip_html(markup).split()) if isinstance(markup, str) else ""


@dataclass(frozen=True)
class NewEntry:
    """An entry to record, with the matches found in it."""

    entry: Entry
    matches: tuple[Match, ...]
    alert: bool  # False: record without alerting (first-poll backfill / catch-up)


@dataclass(frozen=True)
class RecordResult:
    """What `Store.record_entries` wrote."""

    entries: int  # entries actually inserted (already-seen ones skipped)
    alerts: int  # alert rows created
    deliveries: int  # delivery rows created
    attached: int = 0  # matches that joined a story this rule already alerted on, without a new alert


@dataclass(frozen=True)
class StoryOptions:
    """How `record_entries` groups reports into stories (monitor.stories)."""

    window: float  # seconds after a story's first report during which later reports join it
    updates: frozenset[str] = frozenset()  # rules whose later reports of a story alert again (updates = true)


@dataclass(frozen=True)
class PendingDelivery:
    """One alert waiting to be sent to one target."""

    delivery_id: int
    target: str
    attempts: int  # failed attempts so far
    alert: Alert
    batch: str | None = None  # held for a digest: "digest", "quiet" or "storm" (monitor.digest)
    held_until: datetime | None = None
    queued_at: datetime | None = None  # when the delivery was queued (or re-queued by `alerts retry`)


@dataclass(frozen=True)
class ClaimedDeliveries:
    """What `Store.claim_deliveries` got: the deliveries now this process's to send, and how many due ones
    another live process holds (it is sending them)."""

    deliveries: list[PendingDelivery]
    held_elsewhere: int = 0


@dataclass(frozen=True)
class DeadDelivery:
    """A delivery given up after too many attempts or too long (`monitor alerts dead`)."""

    delivery_id: int
    target: str
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None
    queued_at: datetime | None
    alert: Alert


@dataclass(frozen=True)
class DaemonStatus:
    """The `daemon` row: what the running (or last) daemon on this database reported about itself."""

    pid: int
    hostname: str
    started_at: datetime
    heartbeat: datetime
    heartbeat_every: float
    stopped_at: datetime | None
    config: str
    feeds: int
    rules: int
    rules_loaded_at: datetime | None
    last_reload_at: datetime | None
    last_reload_error: str | None
    last_poll_at: datetime | None
    polls: int
    health: str | None


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored, with the rules that matched it when it was first seen (what `replay` compares)."""

    row: int  # entries.id
    feed_name: str
    entry: Entry
    first_seen: datetime
    matched: dict[str, bool]  # rule -> whether that match alerted


class Store:
    """The SQLite database of one monitor: feeds, entries, matches, alerts and their deliveries.

    Open with `Store.open(path)`. The connection may be used from any thread, one thread at a time.
    `db` is public for read-only queries (CLI, tests); all writes go through the methods.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self.db = db
        self.path = path
        # Who holds this store's claims on deliveries and its daemon row: host, pid and a random token (a pid
        # alone could be reused after a crash).
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self._files: dict[str, FileIdentity] | None = None  # see watch_files

    # -- opening -----------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) the database at `path`: parent directories, WAL, schema migrations."""
        path = Path(path)
        refuse_leftovers(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot create the database directory {str(path.parent)!r}: {error.strerror or error}",
                location=str(path),
                hint="choose a path in a writable directory",
            ) from None
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, check_same_thread=False)
        except sqlite3.Error as error:
            raise _open_error(path, error) from None
        try:
            db = sqlite_utils.Database(conn, execute_plugins=False)
            register_functions(conn)
            db.execute("PRAGMA foreign_keys = ON")
            # WAL lets other processes (the CLI, the sqlite3 shell) read while the daemon writes. It is
            # persistent, but setting it on every open also repairs a file switched back by hand.
            db.execute("PRAGMA journal_mode = WAL").fetchall()
            db.execute("PRAGMA synchronous = NORMAL")  # FULL for the writes that must survive a power cut
            store = cls(db, path)
            with store._write():
                unknown = store._unknown_migrations()
                if unknown:
                    raise StoreError(
                        f"the database was written by a newer monitor (unknown migrations: {', '.join(unknown)})",
                        location=str(path),
                        hint="upgrade monitor, or point it at another database file",
                    )
                migrations.apply(db)
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as error:
            conn.close()
            raise _open_error(path, error) from None
        return store

    def close(self) -> None:
        """Close the connection; the Store cannot be used afterwards."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """How many of the schema's migrations have been applied (the latest migration's number)."""
        with self._failures("read the schema version"):
            return len(migrations.applied(self.db))

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode for this file: "wal" unless the filesystem cannot do WAL."""
        with self._failures("read the journal mode"):
            return str(self.db.execute("PRAGMA journal_mode").fetchone()[0])

    def _unknown_migrations(self) -> list[str]:
        return [applied.name for applied in migrations.applied(self.db) if applied.name not in MIGRATION_NAMES]

    # -- feeds -------------------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> list[FeedState]:
        """Make the feeds table follow the configuration; return the configured feeds' states, in order.

        New URLs are inserted, names updated (in the alert search index too), feeds no longer configured
        marked removed (kept for their history), and a removed feed configured again is un-removed.
        """
        stamp = _stamp(now)
        configured = {feed.url: feed for feed in feeds}  # a URL listed twice: the last one wins
        with self._failures("update the feeds"), self._write():
            existing = {row["config_url"]: row for row in self.db.query("SELECT id, config_url, name FROM feeds")}
            for url, feed in configured.items():
                if url in existing:
                    self.db.execute(
                        "UPDATE feeds SET name = ?, removed = 0 WHERE id = ?",
                        [feed.name, existing[url]["id"]],
                    )
                    if existing[url]["name"] != feed.name:
                        self._rename_in_search(existing[url]["id"], feed.name)
                else:
                    self.db.execute(
                        "INSERT INTO feeds (config_url, url, name, created_at) VALUES (?, ?, ?, ?)",
                        [url, url, feed.name, stamp],
                    )
            for url, row in existing.items():
                if url not in configured:
                    self.db.execute("UPDATE feeds SET removed = 1 WHERE id = ?", [row["id"]])
                    if "@" in row["name"] and row["name"] == urlsplit(url).netloc:
                        # Named user:password@host by an older version (feeds configured now are renamed above).
                        name = feed_display_name(url)
                        self.db.execute("UPDATE feeds SET name = ? WHERE id = ?", [name, row["id"]])
                        self._rename_in_search(row["id"], name)
            states = {state.config_url: state for state in self._feed_states("WHERE feeds.removed = 0", [])}
        return [states[url] for url in configured]

    def _rename_in_search(self, feed_id: int, name: str) -> None:
        """The feed's alerts are searched under its new name only (an old default name could hold a password)."""
        self.db.execute(
            """
            UPDATE alert_search SET feed = ? WHERE rowid IN (
                SELECT alerts.id FROM alerts
                JOIN matches ON matches.id = alerts.match_id
                JOIN entries ON entries.id = matches.entry_row
                WHERE entries.feed_id = ?
            )
            """,
            [name, feed_id],
        )

    def feed_states(self, *, include_removed: bool = False) -> list[FeedState]:
        """Every configured feed's state (and removed ones on request), in the order they were added."""
        with self._failures("read the feeds"):
            return self._feed_states("" if include_removed else "WHERE feeds.removed = 0", [])

    def feed_state(self, config_url: str, *, count_entries: bool = True) -> FeedState:
        """The state of the feed configured as `config_url` (removed or not); KeyError if never seen.

        Without `count_entries` (a poll does not need it), `entries_seen` is None and the read is cheaper.
        """
        with self._failures("read a feed"):
            states = self._feed_states("WHERE feeds.config_url = ?", [config_url], count_entries=count_entries)
        if not states:
            raise KeyError(config_url)
        return states[0]

    def _feed_states(self, where: str, parameters: list[Any], *, count_entries: bool = True) -> list[FeedState]:
        counted = "(SELECT count(*) FROM entries WHERE entries.feed_id = feeds.id)" if count_entries else "NULL"
        rows = self.db.query(
            f"""
            SELECT feeds.*, {counted} AS entries_seen
            FROM feeds {where} ORDER BY feeds.id
            """,
            parameters,
        )
        return [
            FeedState(
                feed_id=row["id"],
                config_url=row["config_url"],
                url=row["url"],
                name=row["name"],
                etag=row["etag"],
                last_modified=row["last_modified"],
                body_hash=row["body_hash"],
                error_count=row["error_count"],
                last_error=row["last_error"],
                last_error_at=_parse_stamp(row["last_error_at"]),
                last_success=_parse_stamp(row["last_success"]),
                next_check=_parse_stamp(row["next_check"]),
                disabled=bool(row["disabled"]),
                entries_seen=row["entries_seen"],
                last_polled=_parse_stamp(row["last_polled"]),
                removed=bool(row["removed"]),
            )
            for row in rows
        ]

    def save_fetch_ok(
        self,
        feed_id: int,
        *,
        now: datetime,
        url: str,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        next_check: datetime,
    ) -> None:
        """Record a successful poll (200 or 304): validators, the URL to fetch next; the error streak ends."""
        with self._failures("save a feed's state"), self._write():
            self._update_feed(
                feed_id,
                """
                UPDATE feeds SET url = ?, etag = ?, last_modified = ?, body_hash = ?, error_count = 0,
                    last_success = ?, last_polled = ?, next_check = ?
                WHERE id = ?
                """,
                [url, etag, last_modified, body_hash, _stamp(now), _stamp(now), _stamp(next_check), feed_id],
            )

    def save_fetch_error(
        self, feed_id: int, *, now: datetime, error: str, next_check: datetime, disable: bool = False
    ) -> None:
        """Record a failed poll: one more error in the streak; `disable` stops polling (410 Gone)."""
        with self._failures("save a feed's state"), self._write():
            self._update_feed(
                feed_id,
                """
                UPDATE feeds SET error_count = error_count + 1, last_error = ?, last_error_at = ?,
                    last_polled = ?, next_check = ?, disabled = max(disabled, ?)
                WHERE id = ?
                """,
                [
                    _cap(error, SHORT_TEXT_CAP),
                    _stamp(now),
                    _stamp(now),
                    _stamp(next_check),
                    int(disable),
                    feed_id,
                ],
            )

    def enable_feed(self, feed_id: int) -> None:
        """Poll a disabled feed again: clear `disabled`, the error streak and the next check time."""
        with self._failures("enable a feed"), self._write():
            self._update_feed(
                feed_id,
                "UPDATE feeds SET disabled = 0, error_count = 0, next_check = NULL WHERE id = ?",
                [feed_id],
            )

    def _update_feed(self, feed_id: int, sql: str, parameters: list[Any]) -> None:
        if self.db.execute(sql, parameters).rowcount == 0:
            raise KeyError(feed_id)

    # -- entries, matches, alerts, deliveries ----------------------------------------------------------

    def unseen(self, feed_id: int, entries: Sequence[Entry]) -> list[Entry]:
        """The entries never stored for this feed, in order, each id and link once (the first one wins).

        An entry is seen if its entry_id or its non-empty link was stored for the feed, so a feed whose
        guids change on every fetch while the links stay does not alert again.
        """
        with self._failures("read entries"):
            seen_ids, seen_links = self._stored_keys(feed_id, entries)
        return [entries[position] for position in _unseen_positions(entries, seen_ids, seen_links)]

    def record_entries(
        self,
        feed_id: int,
        new: Sequence[NewEntry],
        *,
        now: datetime,
        route: Callable[[Match], Sequence[str]],
        stories: StoryOptions | None = None,
    ) -> RecordResult:
        """Store new entries with their matches and queue their alerts, all in ONE transaction.

        Entries already seen (as in `unseen`) are skipped with their matches. For an entry with
        `alert=True`, each match gets an alert row and, for each target name in `route(match)`, a pending
        delivery due at `now`. If anything fails, route() included, nothing is written.

        With `stories`, an alerting entry first joins the open story it reports (monitor.stories.find_story)
        or starts one; a match whose rule already alerted on that story raises no alert (the entry shows as
        "also reported by"), unless the rule is in `stories.updates`.
        """
        stamp = _stamp(now)
        entries = alerts = deliveries = attached = 0
        open_stories: list[Story] | None = None
        with self._failures("record entries"), self._write(durable=True):
            batch = [item.entry for item in new]
            seen_ids, seen_links = self._stored_keys(feed_id, batch)
            for position in _unseen_positions(batch, seen_ids, seen_links):
                item = new[position]
                entry_row = self._insert_entry(feed_id, item.entry, stamp)
                entries += 1
                story_id = None
                if stories is not None and item.alert and item.matches:
                    if open_stories is None:
                        open_stories = self._open_stories(now - timedelta(seconds=stories.window))
                    story_id = self._join_story(entry_row, item.entry, stamp, open_stories)
                for match in item.matches:
                    match_id = self._insert(
                        "INSERT INTO matches (entry_row, rule, severity, score, hits) VALUES (?, ?, ?, ?, ?)",
                        [entry_row, match.rule, match.severity, match.score, _hits_json(match.hits)],
                    )
                    if not item.alert:
                        continue
                    if (
                        story_id is not None
                        and stories is not None
                        and match.rule not in stories.updates
                        and self._story_alerted(story_id, match.rule)
                    ):
                        attached += 1
                        continue
                    alert_id = self._insert(
                        "INSERT INTO alerts (match_id, created_at, story_id) VALUES (?, ?, ?)",
                        [match_id, stamp, story_id],
                    )
                    alerts += 1
                    for target in dict.fromkeys(route(match)):
                        self._insert(
                            """
                            INSERT INTO deliveries
                                (alert_id, target, status, attempts, next_attempt, created_at)
                            VALUES (?, ?, 'pending', 0, ?, ?)
                            """,
                            [alert_id, target, stamp, stamp],
                        )
                        deliveries += 1
        return RecordResult(entries=entries, alerts=alerts, deliveries=deliveries, attached=attached)

    def _open_stories(self, since: datetime) -> list[Story]:
        """Stories first seen at or after `since`, with the grouping keys of all their reports."""
        keys: dict[int, list[StoryKey]] = {}
        rows = self.db.execute(
            """
            SELECT stories.id, entries.title, entries.link FROM stories
            JOIN entries ON entries.story_id = stories.id
            WHERE stories.first_seen >= ? ORDER BY stories.id, entries.id
            """,
            [_stamp(since)],
        )
        for story_id, title, link in rows:
            keys.setdefault(story_id, []).append(story_key(title, link))
        return [Story(story_id, tuple(story_keys)) for story_id, story_keys in keys.items()]

    def _join_story(self, entry_row: int, entry: Entry, stamp: str, open_stories: list[Story]) -> int:
        """Put the entry in the open story it reports, or a new one; keep `open_stories` up to date."""
        key = story_key(entry.title, entry.link)
        story_id = find_story(key, open_stories)
        if story_id is None:
            story_id = self._insert(
                "INSERT INTO stories (title, link, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                [_cap(entry.title, SHORT_TEXT_CAP), _valid(entry.link), stamp, stamp],
            )
            open_stories.append(Story(story_id, (key,)))
        else:
            self.db.execute("UPDATE stories SET last_seen = ? WHERE id = ?", [stamp, story_id])
            position = next(i for i, story in enumerate(open_stories) if story.story_id == story_id)
            open_stories[position] = Story(story_id, (*open_stories[position].keys, key))
        self.db.execute("UPDATE entries SET story_id = ? WHERE id = ?", [story_id, entry_row])
        return story_id

    def _story_alerted(self, story_id: int, rule: str) -> bool:
        row = self.db.execute(
            """
            SELECT 1 FROM alerts JOIN matches ON matches.id = alerts.match_id
            WHERE alerts.story_id = ? AND matches.rule = ? LIMIT 1
            """,
            [story_id, rule],
        ).fetchone()
        return row is not None

    def _insert_entry(self, feed_id: int, entry: Entry, stamp: str) -> int:
        return self._insert(
            """
            INSERT INTO entries
                (feed_id, entry_id, link, title, summary, content, published, author, first_seen)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                feed_id,
                _valid(entry.entry_id),
                _valid(entry.link),
                _cap(entry.title, SHORT_TEXT_CAP),
                _cap(entry.summary, TEXT_CAP),
                _cap(entry.content, TEXT_CAP),
                _stamp(entry.published) if entry.published else None,
                _cap(entry.author, SHORT_TEXT_CAP),
                stamp,
            ],
        )

    def _insert(self, sql: str, parameters: list[Any]) -> int:
        row_id = self.db.execute(sql, parameters).lastrowid
        assert row_id is not None
        return row_id

    def _stored_keys(self, feed_id: int, entries: Sequence[Entry]) -> tuple[set[str], set[str]]:
        """Which of these entries' ids and links are already stored for the feed."""
        seen_ids: set[str] = set()
        seen_links: set[str] = set()
        ids = list(dict.fromkeys(_valid(entry.entry_id) for entry in entries))
        links = list(dict.fromkeys(_valid(entry.link) for entry in entries if entry.link))
        for chunk in _chunks(ids, _SQL_VARIABLES):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT entry_id FROM entries WHERE feed_id = ? AND entry_id IN ({marks})"
            seen_ids.update(row[0] for row in self.db.execute(sql, [feed_id, *chunk]))
        for chunk in _chunks(links, _SQL_VARIABLES):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT link FROM entries WHERE feed_id = ? AND link IN ({marks})"
            seen_links.update(row[0] for row in self.db.execute(sql, [feed_id, *chunk]))
        return seen_ids, seen_links

    def pending_deliveries(
        self, now: datetime, *, target: str | None = None, limit: int = 500, held_by: datetime | None = None
    ) -> list[PendingDelivery]:
        """Deliveries due by `now` (status pending, next_attempt <= now), oldest first, with their alerts.

        Deliveries held for a digest are left out until their `held_until` (compared with `held_by`, which
        defaults to `now`: a caller ignoring retry back-off still keeps digests, quiet hours and storms).
        Alerts come with their story's other reports and their update flag.
        """
        where = (
            "deliveries.status = 'pending' AND deliveries.next_attempt <= ?"
            " AND (deliveries.held_until IS NULL OR deliveries.held_until <= ?)"
        )
        parameters: list[Any] = [_stamp(now), _stamp(held_by or now)]
        if target is not None:
            where += " AND deliveries.target = ?"
            parameters.append(target)
        parameters.append(limit)
        with self._failures("read pending deliveries"):
            rows = self._delivery_rows("deliveries.batch, deliveries.held_until", where, parameters)
            alerts = self._with_stories([_alert(row) for row in rows])
        return [
            PendingDelivery(
                delivery_id=row["delivery_id"],
                target=row["target"],
                attempts=row["attempts"],
                alert=alert,
                batch=row["batch"],
                held_until=_parse_stamp(row["held_until"]),
                queued_at=_parse_stamp(row["queued_at"]),
            )
            for row, alert in zip(rows, alerts, strict=True)
        ]

    def claim_deliveries(
        self,
        now: datetime,
        *,
        lease: float,
        due: datetime | None = None,
        held_by: datetime | None = None,
        limit: int = 500,
        skip_targets: Collection[str] = (),
    ) -> ClaimedDeliveries:
        """Claim the deliveries due by `due` (default `now`) that no live process holds, for `lease` seconds.

        What `pending_deliveries` would return, less the deliveries another process claimed and still holds, all
        picked and claimed in one write transaction: two processes (a daemon and `run --once`) never get the same
        delivery. A claim whose owner is gone (a process of this host that no longer exists) is void at once;
        any other lapses at its `claimed_until`. The caller marks each delivery delivered, failed or held, or
        gives it back with `release_claims`, and renews the claim (`renew_claims`) while a send runs.
        """
        stamp = _stamp(now)
        until = _stamp(now + timedelta(seconds=lease))
        with self._failures("claim deliveries"), self._write():
            for (owner,) in self.db.execute(
                "SELECT DISTINCT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL AND claimed_until > ?",
                [stamp],
            ).fetchall():
                if owner != self.owner and _owner_gone(owner):
                    self.db.execute("UPDATE deliveries SET claimed_by = NULL WHERE claimed_by = ?", [owner])
            where = (
                "deliveries.status = 'pending' AND deliveries.next_attempt <= ?"
                " AND (deliveries.held_until IS NULL OR deliveries.held_until <= ?)"
            )
            parameters: list[Any] = [_stamp(due or now), _stamp(held_by or now)]
            if skip_targets:
                where += f" AND deliveries.target NOT IN ({', '.join('?' * len(skip_targets))})"
                parameters += list(skip_targets)
            free = " AND (deliveries.claimed_by IS NULL OR deliveries.claimed_until <= ?)"
            ids = [
                row[0]
                for row in self.db.execute(
                    f"SELECT deliveries.id FROM deliveries WHERE {where}{free} ORDER BY deliveries.id LIMIT ?",
                    [*parameters, stamp, limit],
                )
            ]
            for chunk in _chunks([str(i) for i in ids], _SQL_VARIABLES):
                marks = ", ".join("?" * len(chunk))
                self.db.execute(
                    f"UPDATE deliveries SET claimed_by = ?, claimed_until = ? WHERE id IN ({marks})",
                    [self.owner, until, *chunk],
                )
            held_elsewhere = self.db.execute(
                f"SELECT count(*) FROM deliveries WHERE {where} AND deliveries.claimed_by != ?"
                " AND deliveries.claimed_until > ?",
                [*parameters, self.owner, stamp],
            ).fetchone()[0]
            rows = []
            for chunk in _chunks([str(i) for i in ids], _SQL_VARIABLES):
                marks = ", ".join("?" * len(chunk))
                rows += self._delivery_rows(
                    "deliveries.batch, deliveries.held_until", f"deliveries.id IN ({marks})", [*chunk, len(chunk)]
                )
            alerts = self._with_stories([_alert(row) for row in rows])
        return ClaimedDeliveries(
            [
                PendingDelivery(
                    delivery_id=row["delivery_id"],
                    target=row["target"],
                    attempts=row["attempts"],
                    alert=alert,
                    batch=row["batch"],
                    held_until=_parse_stamp(row["held_until"]),
                    queued_at=_parse_stamp(row["queued_at"]),
                )
                for row, alert in zip(rows, alerts, strict=True)
            ],
            held_elsewhere=held_elsewhere,
        )

    def renew_claims(self, delivery_ids: Sequence[int], now: datetime, lease: float) -> set[int]:
        """Extend this store's claims on these pending deliveries to `now + lease`; the ids it still holds.

        Called right before a send and while it runs: a delivery whose claim lapsed and was taken by another
        process is left out (the caller must not send it).
        """
        held: set[int] = set()
        until = _stamp(now + timedelta(seconds=lease))
        with self._failures("renew delivery claims"), self._write():
            for delivery_id in dict.fromkeys(delivery_ids):
                cursor = self.db.execute(
                    """
                    UPDATE deliveries SET claimed_until = ?
                    WHERE id = ? AND status = 'pending' AND claimed_by = ?
                    """,
                    [until, delivery_id, self.owner],
                )
                if cursor.rowcount:
                    held.add(delivery_id)
        return held

    def next_delivery_due(self, now: datetime, *, skip_targets: Collection[str] = ()) -> datetime | None:
        """When the earliest pending delivery nobody holds falls due (its retry, or the end of its hold), or None.

        A delivery claimed by a live sender counts from when its claim lapses; `skip_targets` (targets with a send
        running) are left out.
        """
        where = "status = 'pending'"
        parameters: list[Any] = [_stamp(now)]
        if skip_targets:
            where += f" AND target NOT IN ({', '.join('?' * len(skip_targets))})"
            parameters += list(skip_targets)
        with self._failures("read pending deliveries"):
            row = self.db.execute(
                f"""
                SELECT min(max(next_attempt, coalesce(held_until, next_attempt),
                               CASE WHEN claimed_until > ? THEN claimed_until ELSE next_attempt END))
                FROM deliveries WHERE {where}
                """,
                parameters,
            ).fetchone()
        return _parse_stamp(row[0]) if row else None

    def defer_deliveries(self, delivery_ids: Iterable[int], until: datetime) -> None:
        """Make these pending deliveries due no sooner than `until` (no attempt counted) and give back their claims:
        the other alerts of a target that just failed wait for its retry."""
        ids = [str(i) for i in dict.fromkeys(delivery_ids)]
        with self._failures("defer deliveries"), self._write():
            for chunk in _chunks(ids, _SQL_VARIABLES):
                marks = ", ".join("?" * len(chunk))
                self.db.execute(
                    f"""
                    UPDATE deliveries SET next_attempt = max(next_attempt, ?), claimed_by = NULL, claimed_until = NULL
                    WHERE status = 'pending' AND id IN ({marks})
                    """,
                    [_stamp(until), *chunk],
                )

    def release_claims(self, delivery_ids: Iterable[int]) -> None:
        """Give back this store's claims on these deliveries (not sent this round: another may take them)."""
        ids = [str(i) for i in dict.fromkeys(delivery_ids)]
        if not ids:
            return
        with self._failures("release delivery claims"), self._write():
            for chunk in _chunks(ids, _SQL_VARIABLES):
                marks = ", ".join("?" * len(chunk))
                self.db.execute(
                    f"""
                    UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
                    WHERE claimed_by = ? AND id IN ({marks})
                    """,
                    [self.owner, *chunk],
                )

    def _with_stories(self, alerts: Sequence[Alert]) -> list[Alert]:
        """The alerts with their story's other reports (oldest first) and whether each is an update."""
        story_alerts = [alert for alert in alerts if alert.story_id is not None]
        if not story_alerts:
            return list(alerts)
        reports: dict[int, list[StoryReport]] = {}
        updates: set[int] = set()
        ids = [str(alert.alert_id) for alert in story_alerts]
        for chunk in _chunks(list(dict.fromkeys(ids)), _SQL_VARIABLES):
            marks = ", ".join("?" * len(chunk))
            for row in self.db.query(
                f"""
                SELECT alerts.id AS alert_id, feeds.name, other.title, other.link, other.published
                FROM alerts
                JOIN matches ON matches.id = alerts.match_id
                JOIN entries AS other ON other.story_id = alerts.story_id AND other.id != matches.entry_row
                JOIN feeds ON feeds.id = other.feed_id
                WHERE alerts.id IN ({marks})
                ORDER BY other.first_seen, other.id
                """,
                chunk,
            ):
                reports.setdefault(row["alert_id"], []).append(
                    StoryReport(row["name"], row["title"], row["link"], _parse_stamp(row["published"]))
                )
            updates.update(
                row[0]
                for row in self.db.execute(
                    f"""
                    SELECT alerts.id FROM alerts JOIN matches ON matches.id = alerts.match_id
                    WHERE alerts.id IN ({marks}) AND EXISTS (
                        SELECT 1 FROM alerts AS earlier JOIN matches AS m ON m.id = earlier.match_id
                        WHERE earlier.story_id = alerts.story_id AND m.rule = matches.rule
                            AND earlier.id < alerts.id)
                    """,
                    chunk,
                )
            )
        return [
            replace(alert, also_reported=tuple(reports.get(alert.alert_id, ())), update=alert.alert_id in updates)
            if alert.story_id is not None
            else alert
            for alert in alerts
        ]

    def mark_delivered(self, delivery_id: int, now: datetime) -> None:
        """The delivery succeeded: status delivered (the attempt is counted)."""
        with self._failures("mark a delivery"), self._write():
            self._mark_one_delivered(delivery_id, now)

    def mark_failed(
        self, delivery_id: int, now: datetime, error: str, next_attempt: datetime, *, dead: bool = False
    ) -> None:
        """The delivery failed: count the attempt, keep the error, retry at `next_attempt` (or give up)."""
        with self._failures("mark a delivery"), self._write():
            self._update_delivery(
                delivery_id,
                """
                UPDATE deliveries SET attempts = attempts + 1, last_error = ?, last_attempt_at = ?,
                    next_attempt = ?, status = ?, claimed_by = NULL, claimed_until = NULL
                WHERE id = ?
                """,
                [
                    _cap(error, SHORT_TEXT_CAP),
                    _stamp(now),
                    _stamp(next_attempt),
                    "dead" if dead else "pending",
                    delivery_id,
                ],
            )

    def mark_all_delivered(self, delivery_ids: Sequence[int], now: datetime) -> None:
        """A digest carrying these deliveries succeeded: all delivered, in one transaction."""
        with self._failures("mark deliveries"), self._write():
            for delivery_id in delivery_ids:
                self._mark_one_delivered(delivery_id, now)

    def _mark_one_delivered(self, delivery_id: int, now: datetime) -> None:
        self._update_delivery(
            delivery_id,
            """
            UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?,
                last_attempt_at = ?, claimed_by = NULL, claimed_until = NULL
            WHERE id = ?
            """,
            [_stamp(now), _stamp(now), delivery_id],
        )

    def hold_deliveries(self, holds: Iterable[tuple[int, str, datetime]]) -> None:
        """Hold pending deliveries for a digest: (delivery_id, batch, until), in one transaction."""
        with self._failures("hold deliveries"), self._write():
            for delivery_id, batch, until in holds:
                self.db.execute(
                    """
                    UPDATE deliveries SET batch = ?, held_until = ?, next_attempt = max(next_attempt, ?),
                        claimed_by = NULL, claimed_until = NULL
                    WHERE id = ? AND status = 'pending'
                    """,
                    [batch, _stamp(until), _stamp(until), delivery_id],
                )

    def storm_history(self, target: str, since: datetime) -> dict[str, RuleHistory]:
        """Per rule, the target's deliveries sent alone since `since` and the end of its latest storm window."""
        sent: dict[str, list[datetime]] = {}
        storms: dict[str, datetime] = {}
        with self._failures("read delivery history"):
            for rule, delivered_at in self.db.execute(
                """
                SELECT matches.rule, deliveries.delivered_at FROM deliveries
                JOIN alerts ON alerts.id = deliveries.alert_id JOIN matches ON matches.id = alerts.match_id
                WHERE deliveries.target = ? AND deliveries.status = 'delivered' AND deliveries.batch IS NULL
                    AND deliveries.delivered_at >= ?
                ORDER BY deliveries.delivered_at
                """,
                [target, _stamp(since)],
            ):
                moment = _parse_stamp(delivered_at)
                if moment is not None:
                    sent.setdefault(rule, []).append(moment)
            for rule, until in self.db.execute(
                """
                SELECT matches.rule, max(deliveries.held_until) FROM deliveries
                JOIN alerts ON alerts.id = deliveries.alert_id JOIN matches ON matches.id = alerts.match_id
                WHERE deliveries.target = ? AND deliveries.batch = 'storm' AND deliveries.held_until >= ?
                GROUP BY matches.rule
                """,
                [target, _stamp(since)],
            ):
                moment = _parse_stamp(until)
                if moment is not None:
                    storms[rule] = moment
        return {
            rule: RuleHistory(sent_alone=tuple(sent.get(rule, ())), storm_until=storms.get(rule))
            for rule in sent.keys() | storms.keys()
        }

    def _delivery_rows(self, columns: str, where: str, parameters: list[Any]) -> list[dict[str, Any]]:
        """Deliveries matching `where` with their alerts and the extra `columns`, oldest first; the last
        parameter is the LIMIT."""
        return list(
            self.db.query(
                f"""
                SELECT deliveries.id AS delivery_id, deliveries.target, deliveries.attempts,
                    deliveries.created_at AS queued_at, {columns}, {_ALERT_COLUMNS}
                FROM deliveries JOIN alerts ON alerts.id = deliveries.alert_id {_ALERT_JOINS}
                WHERE {where}
                ORDER BY deliveries.id
                LIMIT ?
                """,
                parameters,
            )
        )

    def dead_deliveries(self, *, limit: int = 500) -> list[DeadDelivery]:
        """Deliveries given up (status dead), oldest first, with their alerts."""
        with self._failures("read dead deliveries"):
            rows = self._delivery_rows(
                "deliveries.last_error, deliveries.last_attempt_at", "deliveries.status = 'dead'", [limit]
            )
        return [
            DeadDelivery(
                delivery_id=row["delivery_id"],
                target=row["target"],
                attempts=row["attempts"],
                last_error=row["last_error"],
                last_attempt_at=_parse_stamp(row["last_attempt_at"]),
                queued_at=_parse_stamp(row["queued_at"]),
                alert=_alert(row),
            )
            for row in rows
        ]

    def requeue_deliveries(self, delivery_ids: Sequence[int] | None, now: datetime) -> list[int]:
        """Queue dead (or failing) deliveries again, due at `now` with a fresh attempt count and age.

        `delivery_ids` None re-queues every dead delivery. Delivered deliveries and unknown ids are left
        alone. Returns the ids re-queued.
        """
        with self._failures("re-queue deliveries"), self._write():
            if delivery_ids is None:
                chosen = [row[0] for row in self.db.execute("SELECT id FROM deliveries WHERE status = 'dead'")]
            else:
                chosen = []
                for chunk in _chunks([str(i) for i in dict.fromkeys(delivery_ids)], _SQL_VARIABLES):
                    marks = ", ".join("?" * len(chunk))
                    chosen += [
                        row[0]
                        for row in self.db.execute(
                            f"SELECT id FROM deliveries WHERE status != 'delivered' AND id IN ({marks})", chunk
                        )
                    ]
            for delivery_id in chosen:
                self.db.execute(
                    """
                    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = ?, created_at = ?,
                        batch = NULL, held_until = NULL
                    WHERE id = ?
                    """,
                    [_stamp(now), _stamp(now), delivery_id],
                )
        return sorted(chosen)

    def _update_delivery(self, delivery_id: int, sql: str, parameters: list[Any]) -> None:
        if self.db.execute(sql, parameters).rowcount == 0:
            raise KeyError(delivery_id)

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries are in each status: {"pending": n, "delivered": n, "dead": n}."""
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        with self._failures("count deliveries"):
            for status, count in self.db.execute("SELECT status, count(*) FROM deliveries GROUP BY status"):
                counts[status] = count
        return counts

    def recent_alerts(self, *, limit: int = 50) -> list[Alert]:
        """The latest alerts, newest first."""
        with self._failures("read alerts"):
            rows = list(
                self.db.query(
                    f"SELECT {_ALERT_COLUMNS} FROM alerts {_ALERT_JOINS} ORDER BY alerts.id DESC LIMIT ?",
                    [limit],
                )
            )
        return [_alert(row) for row in rows]

    # -- daemon status, alert history, replay (service.py, health.py, replay.py) --------------------------

    def daemon_started(
        self,
        *,
        pid: int,
        hostname: str,
        now: datetime,
        heartbeat_every: float,
        config: str,
        feeds: int,
        rules: int,
        refuse: Callable[[DaemonStatus], str | None] | None = None,
    ) -> None:
        """A daemon starts on this database: replace the `daemon` row with a fresh one that this store owns.

        `refuse(row)` sees the row of the daemon that ran before, in the same write transaction, and returns why
        this one must not start (another is alive), or None: two daemons starting at once cannot both pass.
        """
        stamp = _stamp(now)
        with self._failures("record the daemon's start"), self._write():
            previous = self.daemon_status()
            reason = refuse(previous) if refuse is not None and previous is not None else None
            if reason:
                raise StoreError(
                    reason,
                    location=str(self.path),
                    hint="stop it first (systemctl stop monitor), or give this one another `database`",
                )
            self.db.execute(
                """
                INSERT OR REPLACE INTO daemon
                    (id, pid, hostname, started_at, heartbeat, heartbeat_every, config, feeds, rules, rules_loaded_at,
                     owner)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [pid, hostname, stamp, stamp, heartbeat_every, config, feeds, rules, stamp, self.owner],
            )

    def daemon_update(self, now: datetime, **fields: datetime | str | int | float | None) -> None:
        """Refresh the daemon's heartbeat to `now` and set the given columns of the `daemon` row.

        Only the store that wrote the row (`daemon_started`) may: DaemonReplaced when another daemon has
        taken the row over since (this one was paused past its heartbeat, and the other started).
        """
        unknown = set(fields) - _DAEMON_COLUMNS
        if unknown:
            raise ValueError(f"not a daemon column: {', '.join(sorted(unknown))}")
        values = {"heartbeat": now, **fields}
        assignments = ", ".join(f"{name} = ?" for name in values)
        parameters = [_stamp(value) if isinstance(value, datetime) else value for value in values.values()]
        with self._failures("update the daemon's status"), self._write():
            cursor = self.db.execute(
                f"UPDATE daemon SET {assignments} WHERE id = 1 AND (owner IS NULL OR owner = ?)",
                [*parameters, self.owner],
            )
            if cursor.rowcount == 0:
                other = self.daemon_status()
                who = f"pid {other.pid} on {other.hostname}" if other is not None else "none left"
                raise DaemonReplaced(
                    f"another monitor daemon ({who}) has taken over this database",
                    location=str(self.path),
                    hint="this one was paused or cut off past its heartbeat; it stops so that only one polls "
                    "and delivers",
                )

    def daemon_status(self) -> DaemonStatus | None:
        """The `daemon` row, or None when no daemon ever ran on this database."""
        with self._failures("read the daemon's status"):
            rows = list(self.db.query("SELECT * FROM daemon WHERE id = 1"))
        if not rows:
            return None
        row = rows[0]
        return DaemonStatus(
            pid=row["pid"],
            hostname=row["hostname"],
            started_at=_parse_stamp(row["started_at"]) or datetime.min.replace(tzinfo=UTC),
            heartbeat=_parse_stamp(row["heartbeat"]) or datetime.min.replace(tzinfo=UTC),
            heartbeat_every=row["heartbeat_every"],
            stopped_at=_parse_stamp(row["stopped_at"]),
            config=row["config"],
            feeds=row["feeds"],
            rules=row["rules"],
            rules_loaded_at=_parse_stamp(row["rules_loaded_at"]),
            last_reload_at=_parse_stamp(row["last_reload_at"]),
            last_reload_error=row["last_reload_error"],
            last_poll_at=_parse_stamp(row["last_poll_at"]),
            polls=row["polls"],
            health=row["health"],
        )

    def search_alerts(
        self,
        *,
        since: datetime | None = None,
        rules: Sequence[str] = (),
        text: str | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        """Alerts raised since `since`, of `rules`, whose rule, feed, title, summary or matched text has `text`.

        `text` is full-text search (FTS5, case and diacritics folded: "hizballah" finds "Ḥizballah"); every
        word is quoted, so punctuation such as "al-Haq" or "Asa'ib" is searched for, never parsed as syntax, and
        "several words" must all occur. Newest first.
        """
        where: list[str] = []
        parameters: list[Any] = []
        if since is not None:
            where.append("alerts.created_at >= ?")
            parameters.append(_stamp(since))
        if rules:
            where.append(f"matches.rule IN ({', '.join('?' * len(rules))})")
            parameters.extend(rules)
        if text is not None and text.strip():
            query = self.db.quote_fts(text)
            if not query:
                return []
            where.append("alerts.id IN (SELECT rowid FROM alert_search WHERE alert_search MATCH ?)")
            parameters.append(query)
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        with self._failures("search alerts"):
            rows = list(
                self.db.query(
                    f"SELECT {_ALERT_COLUMNS} FROM alerts {_ALERT_JOINS} {condition} ORDER BY alerts.id DESC LIMIT ?",
                    [*parameters, limit],
                )
            )
        return [_alert(row) for row in rows]

    def count_entries_since(self, since: datetime) -> int:
        """How many stored entries were first seen at or after `since`."""
        with self._failures("count entries"):
            row = self.db.execute("SELECT count(*) FROM entries WHERE first_seen >= ?", [_stamp(since)]).fetchone()
        return int(row[0])

    def entries_since(self, since: datetime, *, batch: int = 500) -> Iterator[StoredEntry]:
        """Stored entries first seen at or after `since`, oldest first, each with the rules that matched it."""
        last = 0
        while True:
            with self._failures("read entries"):
                rows = list(
                    self.db.query(
                        """
                        SELECT entries.*, feeds.name AS feed_name,
                            (SELECT json_group_array(json_array(matches.rule, alerts.id IS NOT NULL))
                             FROM matches LEFT JOIN alerts ON alerts.match_id = matches.id
                             WHERE matches.entry_row = entries.id) AS matched
                        FROM entries JOIN feeds ON feeds.id = entries.feed_id
                        WHERE entries.first_seen >= ? AND entries.id > ?
                        ORDER BY entries.id LIMIT ?
                        """,
                        [_stamp(since), last, batch],
                    )
                )
            for row in rows:
                yield StoredEntry(
                    row=row["id"],
                    feed_name=row["feed_name"],
                    entry=Entry(
                        entry_id=row["entry_id"],
                        title=row["title"],
                        link=row["link"],
                        summary=row["summary"],
                        content=row["content"],
                        published=_parse_stamp(row["published"]),
                        author=row["author"],
                    ),
                    first_seen=_parse_stamp(row["first_seen"]) or since,
                    matched={rule: bool(alerted) for rule, alerted in json.loads(row["matched"])},
                )
            if len(rows) < batch:
                return
            last = rows[-1]["id"]

    def totals(self) -> dict[str, int]:
        """How many entries, matches and alerts are stored: {"entries": n, "matches": n, "alerts": n}."""
        with self._failures("count rows"):
            entries, matches, alerts = self.db.execute(
                "SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM matches), (SELECT count(*) FROM alerts)"
            ).fetchone()
        return {"entries": entries, "matches": matches, "alerts": alerts}

    # -- transactions and errors ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes inside one durable transaction (e.g. a poll's record_entries and save_fetch_ok)."""
        with self._failures("write"), self._write(durable=True):
            yield

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[None]:
        """One write transaction; inside another, a savepoint (sqlite-utils' `atomic`).

        `durable`: the commit syncs the WAL to disk (and with it every earlier commit), see the module docstring.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.check_files()
        if durable:
            self.db.execute("PRAGMA synchronous = FULL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                self.db.rollback()
                raise
        finally:
            if durable:
                self.db.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """Turn sqlite3 errors into a StoreError naming the database file."""
        try:
            yield
        except sqlite3.Error as error:
            raise StoreError(
                f"cannot {action}: {error}", location=str(self.path), hint=_hint(error, self.path)
            ) from error

    # -- the files under a running daemon ---------------------------------------------------------------

    def watch_files(self) -> None:
        """Remember which files (device and inode) the database, its WAL and shared memory are now.

        From then on `check_files` runs before every write transaction, and the daemon calls it on each
        heartbeat: a file deleted or replaced under an open connection is not an error SQLite reports (it
        writes on into the deleted file), and a restart would then find an older database, or none.
        """
        self._files = {suffix: _file_identity(self.path, suffix) for suffix in _FILE_SUFFIXES}

    def check_files(self) -> None:
        """Raise DatabaseLostError when a file remembered by `watch_files` was deleted or replaced since (two
        or three stat calls; nothing when not watching)."""
        if self._files is None:
            return
        for suffix in ("", "-wal"):
            remembered = self._files[suffix]
            if remembered is None:  # no WAL (a filesystem without WAL support): nothing to compare
                continue
            current = _file_identity(self.path, suffix)
            if current != remembered:
                what = "deleted" if current is None else "replaced by another file"
                name = "database file" if not suffix else f"database's {suffix.lstrip('-').upper()} file"
                raise DatabaseLostError(f"the {name} was {what} while monitor had it open", location=str(self.path))

    def salvage(self, now: datetime) -> str:
        """After `check_files` failed: save what this connection still sees; say how, in a few words.

        With the database file still in place (its WAL was lost) the WAL's content is written into it (a
        checkpoint through the open WAL), so nothing is lost; otherwise a copy of the whole database goes to
        PATH.rescued-STAMP beside it (VACUUM INTO), which `Store.open` points to until it is moved back.
        """
        assert self._files is not None
        try:
            if _file_identity(self.path, "") == self._files[""]:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                return f"what its WAL held was written into {self.path.name}, which is complete"
            rescued = self.path.with_name(f"{self.path.name}.rescued-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}")
            self.db.execute("VACUUM INTO ?", [str(rescued)])
        except sqlite3.Error as error:
            return f"it could not be saved: {error}"
        return f"a complete copy was saved as {rescued}"

    def remove_stale_files(self) -> list[str]:
        """After closing a database whose file was deleted or replaced: delete its own WAL and shared-memory
        files if they are still at the path (same inodes). They belong to the lost file, and SQLite would
        replay that WAL into whatever database is put at the path next. Returns the names deleted."""
        removed: list[str] = []
        if self._files is None or _file_identity(self.path, "") == self._files[""]:
            return removed
        for suffix in ("-wal", "-shm"):
            remembered = self._files[suffix]
            if remembered is not None and _file_identity(self.path, suffix) == remembered:
                try:
                    os.unlink(f"{self.path}{suffix}")
                except OSError:
                    continue
                removed.append(f"{self.path.name}{suffix}")
        return removed


FileIdentity = tuple[int, int] | None
"""(device, inode) of a file, None when it does not exist."""

_FILE_SUFFIXES = ("", "-wal", "-shm")


def _file_identity(path: Path, suffix: str) -> FileIdentity:
    try:
        info = os.stat(f"{path}{suffix}")
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino)


def refuse_leftovers(path: Path) -> None:
    """Raise DatabaseLostError ("no database at PATH") when the database file is missing but not its traces.

    A WAL or shared-memory file without its database means the file was deleted (perhaps under a running
    daemon): opening would create an empty database, and SQLite deletes a WAL found next to an empty file, so
    even a read command would destroy the last of the data. A PATH.rescued-STAMP copy means a daemon lost the
    file and saved its content there: starting afresh instead would alert on old entries again.
    """
    if path.exists():
        return
    rescued = sorted(glob.glob(glob.escape(str(path)) + ".rescued-*"))
    if rescued:
        raise DatabaseLostError(
            f"no database at {path}, but the copy a daemon rescued from it is there: {rescued[-1]}",
            location=str(path),
            hint=f"move {Path(rescued[-1]).name} to {path.name} to carry on; to start afresh instead, delete it "
            "(entries of the last `backfill` then alert again)",
        )
    traces = [f"{path.name}{suffix}" for suffix in ("-wal", "-shm") if os.path.exists(f"{path}{suffix}")]
    if traces:
        raise DatabaseLostError(
            f"no database at {path}, but its {' and '.join(traces)} are there: the database file was deleted",
            location=str(path),
            hint=f"restore {path.name} from a backup; to start afresh instead, delete {' and '.join(traces)} "
            "(entries of the last `backfill` then alert again)",
        )


_DAEMON_COLUMNS = frozenset(
    {"stopped_at", "feeds", "rules", "rules_loaded_at", "last_reload_at", "last_reload_error", "last_poll_at"}
    | {"polls", "health"}
)

_ALERT_JOINS = """
    JOIN matches ON matches.id = alerts.match_id
    JOIN entries ON entries.id = matches.entry_row
    JOIN feeds ON feeds.id = entries.feed_id
"""
_ALERT_COLUMNS = """
    alerts.id AS alert_id, alerts.created_at AS alert_created_at, matches.rule, matches.severity,
    matches.hits, entries.title, entries.link, entries.summary, entries.published, feeds.name AS feed_name,
    alerts.story_id
"""


def _alert(row: dict[str, Any]) -> Alert:
    hits = _hits_from_json(row["hits"])
    return Alert(
        alert_id=row["alert_id"],
        rule=row["rule"],
        severity=row["severity"],
        title=row["title"],
        link=row["link"],
        summary=row["summary"],
        feed_name=row["feed_name"],
        published=_parse_stamp(row["published"]),
        matched=tuple(dict.fromkeys(hit.text for hit in hits)),
        hits=hits,
        created_at=_parse_stamp(row["alert_created_at"]),
        story_id=row.get("story_id"),
    )


def _unseen_positions(entries: Iterable[Entry], seen_ids: set[str], seen_links: set[str]) -> list[int]:
    """Positions of the entries whose id and link are in neither set; each id and link counts once."""
    ids, links = set(seen_ids), set(seen_links)
    positions = []
    for position, entry in enumerate(entries):
        entry_id, link = _valid(entry.entry_id), _valid(entry.link)
        if entry_id in ids or (link and link in links):
            continue
        positions.append(position)
        ids.add(entry_id)
        if link:
            links.add(link)
    return positions


def _hits_json(hits: Sequence[Hit]) -> str:
    return json.dumps(
        [
            {
                "term": hit.term,
                "kind": hit.kind,
                "alias": hit.alias,
                "field": hit.field,
                "start": hit.start,
                "end": hit.end,
                "text": hit.text,
                "score": hit.score,
            }
            for hit in hits
        ],
        ensure_ascii=False,
    )


def _hits_from_json(text: str) -> tuple[Hit, ...]:
    return tuple(
        Hit(
            term=item["term"],
            kind=item["kind"],
            alias=item["alias"],
            field=item["field"],
            start=int(item["start"]),
            end=int(item["end"]),
            text=item["text"],
            score=float(item["score"]),
        )
        for item in json.loads(text)
    )


def _owner_gone(owner: str) -> bool:
    """Whether the process behind a claim (`Store.owner`: "host/pid/token") no longer exists on this host."""
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's process: only its claim's expiry tells
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _stamp(moment: datetime) -> str:
    """A timezone-aware datetime as stored: UTC, whole seconds, "2026-11-24T19:00:00Z"."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware datetimes")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _valid(text: str) -> str:
    """`text` with lone surrogates (from "&#xD800;" in a feed) replaced: SQLite takes only valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _cap(text: str, limit: int) -> str:
    """`text` made valid and cut to at most `limit` bytes of UTF-8, never inside a character."""
    encoded = _valid(text).encode("utf-8")
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    return encoded[:limit].decode("utf-8", "ignore")


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _open_error(path: Path, error: sqlite3.Error) -> StoreError:
    return StoreError(f"cannot open the database: {error}", location=str(path), hint=_hint(error, path))


def _hint(error: sqlite3.Error, path: Path) -> str | None:
    message = str(error).lower()
    if "locked" in message or "busy" in message:
        return f"another process held the database for more than {BUSY_TIMEOUT:.0f} s"
    if "not a database" in message or "malformed" in message:
        return f"{path} is not a monitor database (or is damaged): move it aside"
    if "full" in message:
        return "the disk is full"
    if any(word in message for word in ("unable to open", "readonly", "read-only", "permission", "i/o")):
        return f"check that {path.parent} exists and that this user can write to it and to {path.name}"
    return None
