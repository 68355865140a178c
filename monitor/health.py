"""Is the daemon alive and well? `monitor status`, the Prometheus metrics and the optional HTTP endpoint.

The daemon writes a heartbeat row into the database (store.daemon_*); `gather_status` reads it with the feeds'
health and the outbox, so `monitor status` works from any shell that can read the database, with or without
the HTTP endpoint. `Metrics` counts what this daemon process did; `render_metrics` turns counters and the
store's figures into the Prometheus text format; `HealthServer` serves `/metrics` and `/healthz` over plain
HTTP/1.1 with asyncio (no dependency), meant for 127.0.0.1.

The endpoint shares the daemon's event loop, so it is bounded (issue #12): at most `MAX_CONNECTIONS` clients at
once (more are answered 503 and closed as soon as they are accepted, so a flood cannot take the process's file
descriptors), `REQUEST_TIMEOUT` seconds for a client to send its request and as long to take the answer, and
`/metrics` is built by `MetricsSnapshot` in a thread with a read-only connection of its own, at most once per
`METRICS_MAX_AGE` seconds however many scrape it: its SQL never runs on the loop that polls feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from monitor import log
from monitor.errors import MonitorError, StoreError
from monitor.model import FeedState
from monitor.store import BUSY_TIMEOUT, DaemonStatus, Store

logger = log.get("health")

STALE_HEARTBEATS = 3
"""A daemon whose heartbeat is older than this many heartbeat periods (plus a few seconds) is taken as dead."""

REQUEST_TIMEOUT = 5.0
"""Seconds a client of the health endpoint has to send its request, and again to take the answer."""

ANSWER_TIMEOUT = 10.0
"""Seconds an answer may take to build (the metrics' queries wait for a database lock at most this long)."""

MAX_CONNECTIONS = 64
"""Clients served at once; further ones get a 503 and are closed at once."""

METRICS_MAX_AGE = 2.0
"""Seconds a /metrics snapshot is served before the next scrape builds a new one."""

BUSY_LOG_PERIOD = 60.0
"""Seconds between two log lines about refused connections or failing scrapes (the rest are counted)."""

MAX_REQUEST_LINES = 100


# -- liveness and `monitor status` ---------------------------------------------------------------------------


def pid_exists(pid: int) -> bool:
    """Whether a process with this id exists on this machine (one of another user counts too)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def liveness(status: DaemonStatus, now: datetime, hostname: str | None = None) -> tuple[bool, str]:
    """(alive, why): alive when not stopped, the heartbeat is recent and, on this machine, the pid exists."""
    if status.stopped_at is not None:
        return False, f"stopped at {_when(status.stopped_at)}"
    age = (now - status.heartbeat).total_seconds()
    limit = STALE_HEARTBEATS * status.heartbeat_every + 5
    same_host = status.hostname == (hostname or socket.gethostname())
    if same_host and not pid_exists(status.pid):
        return False, f"process {status.pid} is gone (crashed or killed; last heartbeat {_ago(age)})"
    if age > limit:
        return False, f"no heartbeat for {_ago(age)} (expected every {status.heartbeat_every:g}s)"
    return True, f"pid {status.pid} on {status.hostname}, heartbeat {_ago(age)}"


def second_daemon_refusal(status: DaemonStatus, now: datetime, hostname: str | None = None) -> str | None:
    """Why a daemon must not start on a database whose daemon row is `status`, or None when it may.

    Refused while the previous daemon is alive (liveness), and also while its process still exists on this host
    though its heartbeat is late: a daemon stopped with SIGSTOP, or starved, resumes and would then poll and
    deliver beside the new one. A daemon of another host with a late heartbeat is taken as dead; if it comes
    back it finds its row taken over and stops (Store.daemon_update).
    """
    alive, why = liveness(status, now, hostname)
    if alive:
        return f"another monitor daemon is running on this database ({why})"
    same_host = status.hostname == (hostname or socket.gethostname())
    if status.stopped_at is None and same_host and pid_exists(status.pid) and _is_monitor_process(status.pid):
        return f"another monitor daemon (pid {status.pid}) still exists on this database but is not answering ({why})"
    return None


def _is_monitor_process(pid: int) -> bool:
    """Whether process `pid` runs monitor (its command line names it); True where /proc cannot tell."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return b"monitor" in command


@dataclass(frozen=True)
class StatusReport:
    """What `monitor status` shows: the daemon, its rules, the feeds' health and the outbox."""

    database: str
    daemon: DaemonStatus | None
    alive: bool
    why: str
    feeds_ok: int
    feeds_failing: list[str]
    feeds_disabled: list[str]
    last_poll: datetime | None
    deliveries: dict[str, int]
    alerts: int
    now: datetime


def gather_status(database: Path, now: datetime) -> StatusReport:
    """Read the daemon's heartbeat row, the feeds and the outbox from the database (never creates it)."""
    if not database.exists():
        why = "no database yet: the daemon has never run with this configuration"
        return StatusReport(str(database), None, False, why, 0, [], [], None, {}, 0, now)
    with Store.open(database) as store:
        daemon = store.daemon_status()
        feeds = store.feed_states()
        deliveries = store.delivery_counts()
        alerts = store.totals()["alerts"]
    if daemon is None:
        alive, why = False, "no daemon has run on this database (start it with `monitor run`)"
    else:
        alive, why = liveness(daemon, now)
    polled = [feed.last_polled for feed in feeds if feed.last_polled is not None]
    return StatusReport(
        database=str(database),
        daemon=daemon,
        alive=alive,
        why=why,
        feeds_ok=sum(1 for feed in feeds if not feed.disabled and feed.error_count == 0),
        feeds_failing=[feed.name for feed in feeds if not feed.disabled and feed.error_count > 0],
        feeds_disabled=[feed.name for feed in feeds if feed.disabled],
        last_poll=max(polled) if polled else None,
        deliveries=deliveries,
        alerts=alerts,
        now=now,
    )


def render_status(report: StatusReport) -> str:
    """`monitor status` for people: one line per aspect."""
    daemon = report.daemon
    state = "running" if report.alive else "NOT RUNNING"
    lines = [f"daemon    {state}: {report.why}"]
    if daemon is not None:
        if report.alive:
            lines.append(f"          up since {_when(daemon.started_at)}, config {daemon.config or '-'}")
        loaded = f"{daemon.rules} rules loaded {_when(daemon.rules_loaded_at)}"
        if daemon.last_reload_error:
            loaded += (
                f"; LAST RELOAD FAILED at {_when(daemon.last_reload_at)}, still running the rules loaded before: "
                f"{daemon.last_reload_error}"
            )
        elif daemon.last_reload_at is not None:
            loaded += f"; last reload ok at {_when(daemon.last_reload_at)}"
        lines.append(f"rules     {loaded}")
    failing = len(report.feeds_failing)
    feeds = f"{report.feeds_ok} ok, {failing} failing, {len(report.feeds_disabled)} disabled"
    if report.feeds_failing:
        feeds += f" (failing: {', '.join(report.feeds_failing[:5])}{', ...' if failing > 5 else ''})"
    lines.append(f"feeds     {feeds}; last poll {_when(report.last_poll)}")
    if daemon is not None and daemon.polls:
        lines.append(f"          {daemon.polls} polls since start, the last finished {_when(daemon.last_poll_at)}")
    lines.append(
        f"outbox    {report.deliveries.get('pending', 0)} queued, {report.deliveries.get('dead', 0)} dead, "
        f"{report.deliveries.get('delivered', 0)} delivered; {report.alerts} alerts raised in all"
    )
    if daemon is not None and daemon.health and report.alive:
        lines.append(f"health    http://{daemon.health}/metrics  http://{daemon.health}/healthz")
    lines.append(f"database  {report.database}")
    return "\n".join(lines)


# -- metrics ---------------------------------------------------------------------------------------------------


@dataclass
class Metrics:
    """Counters of what this daemon process did since it started (Prometheus counters reset on restart)."""

    started_at: datetime
    polls: Counter[str] = field(default_factory=Counter)  # by outcome status: ok, not_modified, error, ...
    poll_errors: Counter[str] = field(default_factory=Counter)  # by error kind: timeout, http, network, ...
    new_entries: int = 0
    alerts_raised: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)  # sent, failed (to retry), dead
    reloads: Counter[str] = field(default_factory=Counter)  # ok, failed

    def record_poll(self, status: str, new_entries: int, alerts: int, error_kind: str | None) -> None:
        """Count one finished poll."""
        self.polls[status] += 1
        if status == "error":
            self.poll_errors[error_kind or "unknown"] += 1
        self.new_entries += new_entries
        self.alerts_raised += alerts

    def record_delivery(self, sent: int, failed: int, dead: int) -> None:
        """Count one delivery round."""
        self.deliveries["sent"] += sent
        self.deliveries["failed"] += failed
        self.deliveries["dead"] += dead

    def copy(self) -> Metrics:
        """A copy that no longer changes (rendered in another thread while the loop counts on)."""
        return Metrics(
            started_at=self.started_at,
            polls=Counter(self.polls),
            poll_errors=Counter(self.poll_errors),
            new_entries=self.new_entries,
            alerts_raised=self.alerts_raised,
            deliveries=Counter(self.deliveries),
            reloads=Counter(self.reloads),
        )


@dataclass(frozen=True)
class StoreFigures:
    """What the metrics read from the database at scrape time."""

    feeds: Sequence[FeedState]
    deliveries: dict[str, int]
    totals: dict[str, int]

    @classmethod
    def read(cls, store: Store) -> StoreFigures:
        """Read the figures (a few quick queries)."""
        return cls(feeds=store.feed_states(), deliveries=store.delivery_counts(), totals=store.totals())


def render_metrics(
    metrics: Metrics,
    figures: StoreFigures,
    *,
    rules: int,
    rules_loaded_at: datetime,
    reload_ok: bool,
) -> str:
    """The Prometheus text exposition format (version 0.0.4) of the counters and the store's figures."""
    out = _Exposition()
    out.metric("monitor_start_time_seconds", "gauge", "When this daemon process started (Unix time).")
    out.sample("monitor_start_time_seconds", {}, metrics.started_at.timestamp())
    out.metric("monitor_polls_total", "counter", "Feed polls finished, by outcome.")
    for status in ("ok", "not_modified", "unchanged", "error", "skipped", "disabled", *sorted(metrics.polls)):
        out.sample("monitor_polls_total", {"status": status}, metrics.polls.get(status, 0), once=True)
    out.metric("monitor_poll_errors_total", "counter", "Failed polls, by kind of error.")
    for kind, count in sorted(metrics.poll_errors.items()):
        out.sample("monitor_poll_errors_total", {"kind": kind}, count)
    out.metric("monitor_new_entries_total", "counter", "New entries recorded by this process.")
    out.sample("monitor_new_entries_total", {}, metrics.new_entries)
    out.metric("monitor_alerts_raised_total", "counter", "Alerts raised by this process.")
    out.sample("monitor_alerts_raised_total", {}, metrics.alerts_raised)
    out.metric(
        "monitor_deliveries_total", "counter", "Delivery attempts by this process: sent, failed (retried later), dead."
    )
    for result in ("sent", "failed", "dead"):
        out.sample("monitor_deliveries_total", {"result": result}, metrics.deliveries.get(result, 0))
    out.metric("monitor_reloads_total", "counter", "Configuration and rule reloads, by result.")
    for result in ("ok", "failed"):
        out.sample("monitor_reloads_total", {"result": result}, metrics.reloads.get(result, 0))

    out.metric("monitor_stored_entries_total", "counter", "Entries stored in the database.")
    out.sample("monitor_stored_entries_total", {}, figures.totals.get("entries", 0))
    out.metric("monitor_stored_matches_total", "counter", "Rule matches stored in the database.")
    out.sample("monitor_stored_matches_total", {}, figures.totals.get("matches", 0))
    out.metric("monitor_stored_alerts_total", "counter", "Alerts stored in the database.")
    out.sample("monitor_stored_alerts_total", {}, figures.totals.get("alerts", 0))
    out.metric("monitor_queue_depth", "gauge", "Deliveries waiting to be sent (pending, retries included).")
    out.sample("monitor_queue_depth", {}, figures.deliveries.get("pending", 0))
    out.metric("monitor_dead_letters", "gauge", "Deliveries given up (dead); see `monitor alerts`.")
    out.sample("monitor_dead_letters", {}, figures.deliveries.get("dead", 0))

    out.metric("monitor_rules_loaded", "gauge", "Rules in the running rule set.")
    out.sample("monitor_rules_loaded", {}, rules)
    out.metric("monitor_rules_loaded_timestamp_seconds", "gauge", "When the running rule set was loaded.")
    out.sample("monitor_rules_loaded_timestamp_seconds", {}, rules_loaded_at.timestamp())
    out.metric("monitor_last_reload_ok", "gauge", "0 when the last reload failed (the previous rules still run).")
    out.sample("monitor_last_reload_ok", {}, int(reload_ok))

    out.metric("monitor_feeds", "gauge", "Configured feeds by health.")
    active = [feed for feed in figures.feeds if not feed.disabled]
    out.sample("monitor_feeds", {"state": "ok"}, sum(1 for feed in active if feed.error_count == 0))
    out.sample("monitor_feeds", {"state": "failing"}, sum(1 for feed in active if feed.error_count > 0))
    out.sample("monitor_feeds", {"state": "disabled"}, len(figures.feeds) - len(active))
    out.metric(
        "monitor_feed_last_success_timestamp_seconds",
        "gauge",
        "When each feed was last polled successfully (0: never).",
    )
    for feed in figures.feeds:
        stamp = feed.last_success.timestamp() if feed.last_success else 0
        out.sample("monitor_feed_last_success_timestamp_seconds", {"feed": feed.name}, stamp)
    out.metric("monitor_feed_consecutive_errors", "gauge", "Failed polls in a row, per feed.")
    for feed in figures.feeds:
        out.sample("monitor_feed_consecutive_errors", {"feed": feed.name}, feed.error_count)
    return out.text()


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.seen: set[str] = set()

    def metric(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: dict[str, str], value: float, *, once: bool = False) -> None:
        rendered = ",".join(f'{key}="{_label_value(text)}"' for key, text in labels.items())
        line = f"{name}{{{rendered}}}" if rendered else name
        if once and line in self.seen:
            return
        self.seen.add(line)
        number = repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))
        self.lines.append(f"{line} {number}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# -- the HTTP endpoint -----------------------------------------------------------------------------------------


class HealthServer:
    """`GET /metrics` (Prometheus text) and `GET /healthz` (200 ok / 503) on one address, asyncio only."""

    def __init__(self, metrics: Callable[[], Awaitable[str]], health: Callable[[], tuple[bool, str]]) -> None:
        self._metrics = metrics
        self._health = health
        self._server: asyncio.Server | None = None
        self.address = ""
        self.active = 0  # connections being served
        self._problems = _RateLimitedLog(BUSY_LOG_PERIOD)

    async def start(self, host: str, port: int) -> str:
        """Listen on host:port (port 0: any free port); return the address bound, "host:port"."""
        # The backlog is also how many connections asyncio accepts in one go before any is served or refused.
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True, backlog=MAX_CONNECTIONS)
        bound = self._server.sockets[0].getsockname()
        shown_host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.address = f"{shown_host}:{bound[1]}"
        return self.address

    async def close(self) -> None:
        """Stop listening (connections in progress are cut)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= MAX_CONNECTIONS:
            self._problems.note("health_busy", f"more than {MAX_CONNECTIONS} connections at once: closed at once")
            writer.write(_response("503 Service Unavailable", "text/plain", b"busy\n", ["Retry-After: 1"], "GET"))
            writer.transport.close()  # the short answer fits the socket buffer: this does not wait for the client
            return
        self.active += 1
        try:
            request = await asyncio.wait_for(_read_request(reader), timeout=REQUEST_TIMEOUT)
            if request is None:
                return
            method, path = request
            status, content_type, body, extra = await asyncio.wait_for(
                self._answer(method, path), timeout=ANSWER_TIMEOUT
            )
            writer.write(_response(status, content_type, body, extra, method))
            await asyncio.wait_for(writer.drain(), timeout=REQUEST_TIMEOUT)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            writer.transport.abort()  # an idle or slow client: drop it without waiting for it to read
        except Exception as error:  # the endpoint must never take the daemon down
            self._problems.note("health_request_failed", repr(error))
            writer.transport.abort()
        finally:
            self.active -= 1
            writer.close()
            # A client that never reads the end of its answer must not keep the socket open either.
            asyncio.get_running_loop().call_later(REQUEST_TIMEOUT, writer.transport.abort)

    async def _answer(self, method: str, path: str) -> tuple[str, str, bytes, list[str]]:
        text = "text/plain; charset=utf-8"
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", text, b"only GET and HEAD\n", ["Allow: GET, HEAD"]
        path = path.split("?", 1)[0]
        if path == "/metrics":
            try:
                metrics = await self._metrics()
            except MonitorError as error:
                self._problems.note("metrics_failed", error.one_line())
                return "503 Service Unavailable", text, f"metrics unavailable: {error.one_line()}\n".encode(), []
            return "200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.encode(), []
        if path in ("/healthz", "/health"):
            ok, why = self._health()
            return (
                ("200 OK" if ok else "503 Service Unavailable"),
                text,
                f"{'ok' if ok else 'unhealthy'}: {why}\n".encode(),
                [],
            )
        if path == "/":
            return "200 OK", text, b"monitor: /metrics (Prometheus), /healthz\n", []
        return "404 Not Found", text, b"not found: try /metrics or /healthz\n", []


def _response(status: str, content_type: str, body: bytes, extra: list[str], method: str) -> bytes:
    head = [
        f"HTTP/1.1 {status}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + (b"" if method == "HEAD" else body)


class _RateLimitedLog:
    """One warning line per kind of problem at most every `period` seconds; the ones in between are counted."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._logged_at: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()

    def note(self, event: str, detail: str) -> None:
        now = time.monotonic()
        if now - self._logged_at.get(event, -math.inf) < self.period:
            self._unlogged[event] += 1
            return
        self._logged_at[event] = now
        log.event(logger, logging.WARNING, event, detail=detail, more=self._unlogged.pop(event, None))


class MetricsSnapshot:
    """The /metrics text, built at most once per `max_age` seconds in a thread, from a read-only connection.

    `prepare` runs on the event loop and returns the function that builds the text from that connection (it
    copies the counters the loop changes, so the thread never reads them while they move). Scrapes arriving
    while a snapshot is built wait for that one: a flood of scrapes costs one set of queries per `max_age`.
    """

    def __init__(
        self, database: Path, prepare: Callable[[], Callable[[Store], str]], *, max_age: float = METRICS_MAX_AGE
    ) -> None:
        self.database = database
        self.max_age = max_age
        self.builds = 0
        self._prepare = prepare
        self._reader: Store | None = None
        self._text = ""
        self._built_at = -math.inf
        self._building: asyncio.Future[str] | None = None

    async def text(self) -> str:
        """The latest snapshot, or a new one when it is older than `max_age`."""
        if time.monotonic() - self._built_at < self.max_age:
            return self._text
        if self._building is None:
            self._building = asyncio.ensure_future(self._build())
        return await asyncio.shield(self._building)

    async def _build(self) -> str:
        try:
            render = self._prepare()
            text = await asyncio.to_thread(self._render, render)
            self._text, self._built_at = text, time.monotonic()
            self.builds += 1
            return text
        finally:
            self._building = None

    def _render(self, render: Callable[[Store], str]) -> str:
        if self._reader is None:
            self._reader = _open_reader(self.database)
        return render(self._reader)

    async def close(self) -> None:
        """Close the read connection (after the build under way, if any)."""
        if self._building is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._building), timeout=ANSWER_TIMEOUT)
        if self._reader is not None and self._building is None:
            self._reader.close()
            self._reader = None


def _open_reader(database: Path) -> Store:
    """A read-only connection to the daemon's database, for use in one thread at a time."""
    try:
        uri = database.resolve().as_uri() + "?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, check_same_thread=False)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the database to read metrics: {error}", location=str(database)) from None
    return Store(sqlite_utils.Database(connection, execute_plugins=False), database)


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str] | None:
    """The method and path of an HTTP request; its headers are read and ignored."""
    first = await reader.readline()
    parts = first.decode("latin-1").split()
    if len(parts) < 2:
        return None
    for _ in range(MAX_REQUEST_LINES):
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return parts[0].upper(), parts[1]
    return None


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m ago"
    return f"{seconds // 86400}d ago"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
