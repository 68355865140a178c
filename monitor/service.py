"""The daemon: APScheduler runs one job per feed, a delivery loop sends alerts, signals stop and reload it.

`run_once` polls every feed once and delivers (cron-style). `Daemon` runs until SIGTERM/SIGINT and:
- reloads configuration, feeds, targets and rules on SIGHUP and when the config file or a rule file changes on
  disk (watch.py); a reload that fails validation keeps the last good set running and reports why (log,
  systemd STATUS, the database row `monitor status` reads); polls and deliveries in flight finish with the set
  they started with;
- writes a heartbeat row into the database (store.daemon_*), serves optional /metrics and /healthz (health.py);
- speaks systemd's notify protocol: READY=1, STATUS=..., WATCHDOG=1 at half of $WATCHDOG_USEC, RELOADING=1,
  STOPPING=1;
- stops gracefully: no new polls, in-flight polls and the delivery round under way get `stop_timeout` seconds
  (a second signal abandons them at once), the database is closed, exit code 0.
Under hostile conditions (issue #12, docs/robustness.md):
- a step of the wall clock (back or forward) does not move the polls: `SteadyScheduler` notices it and shifts
  every job by the step, so polls keep their monotonic rhythm, and logs `clock_jumped`;
- polls keep `per_host` and `concurrency` (`FetchSlots`), as `run --once` does;
- SIGHUPs and file edits arriving while a reload runs collapse into one more reload after it; a SIGHUP's
  reload starts no sooner than `RELOAD_SPACING` seconds after the one before;
- the database file or its WAL deleted or replaced under the daemon (`Store.check_files`, on each heartbeat,
  each /healthz and before each write) stops it: what it held is saved (`Store.salvage`), /healthz fails, one
  line says what happened and the exit code is 5, which systemd does not restart;
- errors of the event loop itself (a process out of file descriptors) are logged one line per minute.
All decisions live in pipeline.py and schedule.py; this module only wires the I/O objects together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import signal
import socket
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import log, watch
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError, DaemonReplaced, DatabaseLostError, MonitorError
from monitor.fetch import Fetcher
from monitor.health import HealthServer, Metrics, MetricsSnapshot, StoreFigures, render_metrics, second_daemon_refusal
from monitor.model import FeedConfig, FeedState
from monitor.notify import Notifier
from monitor.pipeline import (
    Clock,
    DeliveryReport,
    ParsePool,
    PollOutcome,
    Runtime,
    Sends,
    build_runtime,
    deliver_pending,
    poll_all,
    poll_feed,
)
from monitor.redact import redact_text, redact_url
from monitor.store import Store

logger = log.get("service")

DELIVERY_PERIOD = 30.0
"""The longest pause between two delivery rounds when no poll queued anything and no retry falls due sooner."""

MIN_DELIVERY_WAIT = 0.5
"""The shortest pause between two delivery rounds, so a retry due at once cannot spin the loop."""

FIRST_POLL_SPREAD = 0.2
"""Seconds between the first polls of consecutive feeds at start, so a restart does not hit every server at once."""

HEALTHY_STATUSES = frozenset({"ok", "not_modified", "unchanged"})

CLOCK_STEP = 1.0
"""Seconds by which the wall clock must disagree with the monotonic clock to count as stepped (NTP slewing
moves it half a millisecond a second at most)."""

RELOAD_SPACING = 1.0
"""Least seconds between the start of a reload and that of a reload asked for by a signal."""

LOOP_ERROR_PERIOD = 60.0
"""Seconds between two log lines about the same kind of event-loop error (the ones between are counted)."""


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock; tests pass their own)."""
    return datetime.now(UTC)


def notify_systemd(message: str) -> None:
    """Send a sd_notify datagram (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1) when run under systemd; else nothing."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as error:
        log.event(logger, logging.WARNING, "systemd_notify_failed", error=error.strerror or str(error))


def watchdog_period() -> float | None:
    """Seconds between WATCHDOG=1 pings: half of $WATCHDOG_USEC, when systemd asks this process for them."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


class SteadyScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """APScheduler's asyncio scheduler, with its jobs' timing kept when the wall clock is stepped.

    APScheduler 3 stores each job's next run as a wall-clock time and sleeps on the loop's monotonic clock
    until the earliest: after the clock is stepped back an hour, every job is an hour ahead of "now" and
    nothing runs for an hour. Before each round of due jobs (and on each heartbeat), `check_clock` compares
    how far the wall clock moved with how far the monotonic clock did; a difference of `CLOCK_STEP` or more
    is a step, and every job's next run is shifted by it, so each still runs when it would have.
    """

    def __init__(self, on_step: Callable[[float], None], **options: Any) -> None:
        super().__init__(**options)
        self._on_step = on_step
        self._wall, self._monotonic = time.time(), time.monotonic()

    def check_clock(self) -> float:
        """Shift every job by the step of the wall clock since the last check, if there was one; the step."""
        wall, monotonic = time.time(), time.monotonic()
        step = (wall - self._wall) - (monotonic - self._monotonic)
        self._wall, self._monotonic = wall, monotonic
        if abs(step) < CLOCK_STEP:
            return 0.0
        shift = timedelta(seconds=step)
        for job in self.get_jobs():
            if job.next_run_time is not None:
                job.modify(next_run_time=job.next_run_time + shift)
        self._on_step(step)
        return step

    def _process_jobs(self) -> float | None:
        # The one place APScheduler decides which jobs are due (a private method of APScheduler 3, pinned <4).
        self.check_clock()
        wait: float | None = super()._process_jobs()
        return wait


class FetchSlots:
    """The `per_host` and `concurrency` limits of the daemon's polls: a poll takes its host's slot first, then
    one of the overall slots (so a feed queued behind its busy host holds none of those)."""

    def __init__(self, concurrency: int, per_host: int) -> None:
        self.concurrency = concurrency
        self.per_host = per_host
        self._overall = asyncio.Semaphore(concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))

    @contextlib.asynccontextmanager
    async def hold(self, url: str) -> AsyncIterator[None]:
        """Wait for a slot of `url`'s host and an overall one; hold both while the block runs."""
        async with self._hosts[urlsplit(url).hostname or ""], self._overall:
            yield


class LoopErrors:
    """The event loop's exception handler: one line per kind of error at most every `LOOP_ERROR_PERIOD`.

    asyncio's own handler logs a traceback each time: a process out of file descriptors logged one per failed
    accept(), thousands a minute.
    """

    def __init__(self) -> None:
        self._logged_at: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()

    def __call__(self, _loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "unhandled error in the event loop")
        error = context.get("exception")
        kind = f"{message}: {type(error).__name__}" if error is not None else message
        now = time.monotonic()
        if now - self._logged_at.get(kind, -LOOP_ERROR_PERIOD) < LOOP_ERROR_PERIOD:
            self._unlogged[kind] += 1
            return
        self._logged_at[kind] = now
        more = self._unlogged.pop(kind, None)
        log.event(logger, logging.ERROR, "loop_error", message=message, error=repr(error) if error else None, more=more)


@dataclass(frozen=True)
class OnceReport:
    """What `run --once` did."""

    outcomes: list[PollOutcome]
    delivery: DeliveryReport


async def run_once(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    force: bool = False,
    on_done: Callable[[PollOutcome], None] | None = None,
    notifier: Notifier | None = None,
    console_json: bool = False,
) -> OnceReport:
    """Poll every feed once, deliver everything queued (retries included) and return what happened.

    Feeds in back-off after errors are skipped unless `force`.
    """
    store = Store.open(settings.database)
    fetcher = Fetcher(settings.fetch)
    parser = ParsePool.for_feeds(len(settings.feeds))
    try:
        runtime = build_runtime(settings, clock())
        store.sync_feeds(settings.feeds, clock())
        sender = notifier or Notifier(settings.targets, console_json=console_json, timeout=settings.daemon.send_wait)
        delivery = DeliveryReport()
        sends = Sends()
        alerts_queued = asyncio.Event()
        polling_done = asyncio.Event()

        def polled(outcome: PollOutcome) -> None:
            if outcome.alerts:
                alerts_queued.set()
            if on_done is not None:
                on_done(outcome)

        async def deliver_while_polling() -> None:
            # A feed's alerts go out as soon as it is polled: a slow feed never delays another feed's alert.
            while True:
                await alerts_queued.wait()
                alerts_queued.clear()
                if polling_done.is_set():
                    return
                delivery.absorb(await deliver_round())

        async def deliver_round() -> DeliveryReport:
            # Queued retries go too (run --once ignores back-off), but a target that failed once in this run
            # is not tried again in it.
            return await deliver_pending(
                store=store,
                notifier=sender,
                runtime=runtime,
                clock=clock,
                ignore_backoff=True,
                skip_targets=frozenset(delivery.failing_targets),
                sends=sends,
            )

        early = asyncio.ensure_future(deliver_while_polling())
        try:
            outcomes = await poll_all(
                settings.feeds,
                store=store,
                fetcher=fetcher,
                runtime=runtime,
                clock=clock,
                honour_interval=False,
                force=force,
                on_done=polled,
                parser=parser,
            )
        finally:
            polling_done.set()
            alerts_queued.set()
            await early  # a round under way finishes; none starts
        delivery.absorb(await deliver_round())
        delivery.absorb(await _finish_sends(sends, settings.daemon.stop_timeout))
        delivery.in_flight = 0  # every send has ended by now, recorded or cut off (`cut_off`)
        return OnceReport(outcomes, delivery)
    finally:
        if parser is not None:
            parser.close()
        await fetcher.aclose()
        store.close()


async def _finish_sends(sends: Sends, patience: float) -> DeliveryReport:
    """Wait up to `patience` seconds for the sends still running; cut off the rest (their alerts stay queued).

    Returns what the finished ones did, and in `cut_off` the deliveries of the sends cut off.
    """
    running = sends.running()
    if running:
        await asyncio.wait(running, timeout=patience)
    cut_off = sends.deliveries_running()
    cut = sends.running()
    for task in cut:
        task.cancel()
    if cut:
        await asyncio.wait(cut, timeout=2.0)
    late = sends.take_late()
    late.cut_off = cut_off
    return late


class Daemon:
    """The long-running service. One instance per process; `run()` returns the exit code."""

    def __init__(self, config_path: Path, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.config_path = config_path
        self.settings = settings
        self.clock = clock
        self.rng = random.Random()
        self.stopping = asyncio.Event()
        self.abandon = asyncio.Event()  # a second stop signal: do not wait for in-flight work
        self.deliveries_due = asyncio.Event()
        self.in_flight: set[asyncio.Task[object]] = set()
        self.sends = Sends()  # sends that outlived their delivery round (monitor.pipeline.Sends)
        self.exit_code = 0
        self.store: Store | None = None
        self.fetcher: Fetcher | None = None
        self.retired_fetchers: list[Fetcher] = []
        self.parser: ParsePool | None = None  # worker processes for feedparser, when there are many feeds
        self.notifier: Notifier | None = None
        self.runtime: Runtime | None = None
        self.scheduler: SteadyScheduler | None = None
        self.slots = FetchSlots(settings.concurrency, settings.per_host)
        self.health_server: HealthServer | None = None
        self.metrics_snapshot: MetricsSnapshot | None = None
        self.reload_error: str | None = None
        self.reload_lock = asyncio.Lock()
        self.reload_wanted: dict[str, set[str]] = {}  # trigger -> files changed, of reloads asked for meanwhile
        self.reloader: asyncio.Task[None] | None = None
        self.last_reload_start = -RELOAD_SPACING  # the event loop's clock
        self.lost: DatabaseLostError | None = None  # set when the database was deleted or replaced under us
        self.watch_baseline: watch.Snapshot = {}
        self.metrics = Metrics(started_at=clock())
        self.polls = 0
        self.last_poll_at: datetime | None = None
        self.last_heartbeat_ok: datetime | None = None
        self.last_heartbeat_monotonic: float | None = None
        self.feed_health: dict[str, str] = {}  # feed URL -> status of its last poll
        self.status_line = ""

    # -- start and serve ---------------------------------------------------------------------------------------

    async def run(self) -> int:
        """Start, serve until a stop signal, stop gracefully; 0 on a clean stop."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(LoopErrors())
        now = self.clock()
        self.runtime = build_runtime(self.settings, now)
        self.notifier = Notifier(self.settings.targets, timeout=self.settings.daemon.send_wait)
        self.store = Store.open(self.settings.database)
        self.store.watch_files()
        try:
            # Checked and claimed in one transaction: of two daemons started at once, one is refused.
            self.store.daemon_started(
                pid=os.getpid(),
                hostname=socket.gethostname(),
                now=now,
                heartbeat_every=self.settings.daemon.heartbeat,
                config=str(self.config_path.resolve()),
                feeds=len(self.settings.feeds),
                rules=len(self.runtime.ruleset.rules),
                refuse=lambda previous: None if previous.pid == os.getpid() else second_daemon_refusal(previous, now),
            )
            states = self.store.sync_feeds(self.settings.feeds, now)
            await self._start_health(self.settings.daemon.health_listen, startup=True)
        except BaseException:
            with contextlib.suppress(Exception):  # our daemon row must not claim a daemon that never ran
                mine = self.store.daemon_status()
                if mine is not None and mine.pid == os.getpid():
                    self.store.daemon_update(now, stopped_at=now)
            self.store.close()
            raise
        self.last_heartbeat_ok = now
        self.last_heartbeat_monotonic = time.monotonic()
        self.fetcher = Fetcher(self.settings.fetch)
        self.parser = ParsePool.for_feeds(len(self.settings.feeds))
        self.scheduler = SteadyScheduler(
            self._clock_jumped,
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self._schedule_feeds(self.settings.feeds, states)
        self.scheduler.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_stop_signal)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.request_reload("sighup"))
        self.watch_baseline = watch.snapshot(self.config_path, self.settings.rules_dir)
        self.deliveries_due.set()  # deliveries left queued by a crash or a stop go out now, not in 30 s
        delivery_task = asyncio.ensure_future(self._delivery_loop())
        helpers = [asyncio.ensure_future(self._heartbeat_loop()), asyncio.ensure_future(self._watch_loop())]
        period = watchdog_period()
        if period is not None:
            helpers.append(asyncio.ensure_future(self._watchdog_loop(period)))
        log.event(
            logger,
            logging.INFO,
            "started",
            pid=os.getpid(),
            feeds=len(self.settings.feeds),
            rules=len(self.runtime.ruleset.rules),
            targets=",".join(self.runtime.target_names),
            database=self.settings.database,
            health=self.health_server.address if self.health_server else None,
            watchdog=f"{period:g}s" if period else None,
        )
        self.status_line = self._status()
        notify_systemd(f"READY=1\nSTATUS={self.status_line}")
        await self.stopping.wait()
        await self._stop(delivery_task, helpers)
        if self.lost is not None:
            removed = self.store.remove_stale_files()
            if removed:
                log.event(logger, logging.INFO, "stale_files_removed", files=",".join(removed))
            raise self.lost
        return self.exit_code

    def _on_stop_signal(self) -> None:
        if self.stopping.is_set():
            log.event(logger, logging.WARNING, "stop_forced", in_flight=len(self.in_flight))
            self.abandon.set()
        self.stopping.set()

    def _schedule_feeds(self, feeds: Sequence[FeedConfig], states: Sequence[FeedState]) -> None:
        """Make the scheduler's jobs follow the feeds: add new ones, drop removed ones, update changed ones.

        A job's timing is left alone unless its feed's interval or the jitter changed, so reloads (which can
        be frequent with the file watcher) never postpone polls. A new job first runs at the feed's stored
        next check when that is later than now (a restart does not re-poll what was just polled).
        """
        assert self.scheduler is not None
        self.scheduler.check_clock()  # jobs added below are timed by the clock as it is now
        wanted = {feed.url: feed for feed in feeds if feed.enabled}
        next_check = {state.config_url: state.next_check for state in states}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        now = self.clock()
        jitter = self.settings.jitter or None
        for index, feed in enumerate(wanted.values()):
            existing = self.scheduler.get_job(feed.url)
            if existing is not None:
                existing.modify(args=(feed,), name=feed.name)
                trigger = existing.trigger
                if trigger.interval.total_seconds() != feed.interval or trigger.jitter != jitter:
                    existing.reschedule("interval", seconds=feed.interval, jitter=jitter)
                continue
            start = now + timedelta(seconds=min(index * FIRST_POLL_SPREAD, 30.0))
            stored = next_check.get(feed.url)
            if stored is not None and stored > start:
                start = stored
            self.scheduler.add_job(
                self._poll_job,
                "interval",
                seconds=feed.interval,
                jitter=jitter,
                id=feed.url,
                name=feed.name,
                args=(feed,),
                next_run_time=start,
                replace_existing=True,
            )

    def _track(self, task: asyncio.Task[object] | asyncio.Future[object]) -> None:
        assert isinstance(task, asyncio.Task)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _poll_job(self, feed: FeedConfig) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._track(task)
        if self.stopping.is_set():
            return
        url = redact_url(feed.url)
        started = False
        try:
            async with self.slots.hold(feed.url):
                if self.stopping.is_set():
                    return
                started = True
                # The objects of the moment: a reload during this poll swaps them for later polls, not this one.
                store, fetcher, runtime = self.store, self.fetcher, self.runtime
                assert store is not None
                assert fetcher is not None
                assert runtime is not None
                outcome = await poll_feed(
                    feed,
                    store=store,
                    fetcher=fetcher,
                    runtime=runtime,
                    clock=self.clock,
                    honour_interval=False,
                    parser=self.parser,
                )
        except asyncio.CancelledError:
            # Only a stop cancels a poll (after its deadline): say so and end the job quietly. A poll still
            # waiting for a slot had not begun: nothing to say.
            if started:
                log.event(logger, logging.WARNING, "poll_abandoned", feed=feed.name, url=url)
            return
        except DatabaseLostError as error:
            self._database_lost(error)
            return
        except MonitorError as error:
            log.event(logger, logging.ERROR, "poll_failed", feed=feed.name, url=url, error=error.one_line())
            self.metrics.record_poll("error", 0, 0, "internal")
            return
        except Exception as error:  # a bug must not kill the scheduler's other jobs
            logger.exception(log.format_fields("poll_crashed", {"feed": feed.name, "url": url, "error": repr(error)}))
            self.metrics.record_poll("error", 0, 0, "internal")
            return
        self.metrics.record_poll(outcome.status, outcome.new_entries, outcome.alerts, outcome.error_kind)
        if outcome.status in HEALTHY_STATUSES or outcome.status == "error":
            self.feed_health[feed.url] = outcome.status
        self.polls += 1
        self.last_poll_at = self.clock()
        if outcome.alerts:
            self.deliveries_due.set()

    async def _delivery_loop(self) -> None:
        wait = 0.0
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliveries_due.wait(), timeout=wait)
            self.deliveries_due.clear()
            if self.stopping.is_set():
                break
            assert self.store is not None
            assert self.notifier is not None
            assert self.runtime is not None
            wait = DELIVERY_PERIOD
            try:
                report = await deliver_pending(
                    store=self.store,
                    notifier=self.notifier,
                    runtime=self.runtime,
                    clock=self.clock,
                    rng=self.rng,
                    sends=self.sends,
                    stop=self.stopping,
                )
                # The next round when the next retry or held delivery falls due (the logged retry_in holds).
                due = self.store.next_delivery_due(self.clock(), skip_targets=self.sends.busy())
                if due is not None:
                    wait = min(DELIVERY_PERIOD, max(MIN_DELIVERY_WAIT, (due - self.clock()).total_seconds()))
            except DatabaseLostError as error:
                self._database_lost(error)
                break
            except MonitorError as error:
                log.event(logger, logging.ERROR, "delivery_failed", error=error.one_line())
                continue
            report.absorb(self.sends.take_late())
            self.metrics.record_delivery(report.sent, report.failed, report.dead)

    # -- liveness: heartbeat, systemd watchdog and status, health endpoint ---------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the daemon stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def _heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            await self._sleep(self.settings.daemon.heartbeat)
            if self.stopping.is_set():
                return
            self._heartbeat()

    def _heartbeat(self) -> None:
        """Check the clock and the database files; write the heartbeat row; tell systemd a changed status."""
        assert self.store is not None
        if self.scheduler is not None:
            self.scheduler.check_clock()
        now = self.clock()
        try:
            self.store.check_files()
            self.store.daemon_update(now, polls=self.polls, last_poll_at=self.last_poll_at)
            self.last_heartbeat_ok = now
            self.last_heartbeat_monotonic = time.monotonic()
        except DatabaseLostError as error:
            self._database_lost(error)
            return
        except DaemonReplaced as error:
            log.event(logger, logging.ERROR, "daemon_replaced", error=error.one_line())
            self.exit_code = error.exit_code
            self.stopping.set()
            return
        except MonitorError as error:
            log.event(logger, logging.ERROR, "heartbeat_failed", error=error.one_line())
        line = self._status()
        if line != self.status_line:
            self.status_line = line
            notify_systemd(f"STATUS={line}")

    def _status(self) -> str:
        """One line for `systemctl status`: feeds, failing feeds, rules, and a failed reload if any."""
        assert self.runtime is not None
        failing = sum(1 for url, status in self.feed_health.items() if status == "error" and self._configured(url))
        rules = len(self.runtime.ruleset.rules)
        line = f"watching {len(self.settings.feeds)} feeds ({failing} failing) with {rules} rules"
        if self.last_poll_at is not None:
            line += f"; last poll {self.last_poll_at.astimezone(UTC):%H:%M:%S} UTC"
        if self.reload_error:
            line += f"; RELOAD FAILED, running the previous configuration: {self.reload_error}"
        return line

    def _configured(self, url: str) -> bool:
        return any(feed.url == url for feed in self.settings.feeds)

    async def _watchdog_loop(self, period: float) -> None:
        """WATCHDOG=1 every `period` seconds for as long as the event loop runs (a hung loop stops the pings)."""
        while True:
            notify_systemd("WATCHDOG=1")
            await asyncio.sleep(period)

    def health(self) -> tuple[bool, str]:
        """/healthz: healthy while the heartbeat reaches the database and the daemon is not stopping."""
        if self.lost is not None:
            return False, self.lost.message
        if self.stopping.is_set():
            return False, "stopping"
        assert self.store is not None
        try:
            self.store.check_files()
        except DatabaseLostError as error:
            return False, error.message
        last = self.last_heartbeat_monotonic  # not the wall clock, which may be stepped
        limit = 3 * self.settings.daemon.heartbeat + 5
        if last is None or time.monotonic() - last > limit:
            return False, "the heartbeat cannot be written to the database"
        if self.reload_error:
            return True, f"running; the last reload failed: {self.reload_error}"
        return True, "running"

    def metrics_renderer(self) -> Callable[[Store], str]:
        """/metrics: on the loop, copy this process's counters; the function returned reads the database's
        figures through the connection it is given and renders both (MetricsSnapshot runs it in a thread)."""
        assert self.runtime is not None
        counters = self.metrics.copy()
        rules, loaded_at, reload_ok = len(self.runtime.ruleset.rules), self.runtime.loaded_at, self.reload_error is None

        def render(reader: Store) -> str:
            figures = StoreFigures.read(reader)
            return render_metrics(counters, figures, rules=rules, rules_loaded_at=loaded_at, reload_ok=reload_ok)

        return render

    def _clock_jumped(self, step: float) -> None:
        log.event(
            logger,
            logging.WARNING,
            "clock_jumped",
            seconds=round(step),
            hint="the wall clock was stepped; every poll was moved by as much, so polls keep their rhythm",
        )

    def _database_lost(self, error: DatabaseLostError) -> None:
        """The database file or its WAL is gone or replaced: save what we still see, then stop (exit 5)."""
        if self.lost is not None:
            return
        assert self.store is not None
        saved = self.store.salvage(self.clock())
        self.lost = DatabaseLostError(
            f"{error.message}; {saved}; monitor stopped",
            location=error.location,
            hint="see `Database files deleted` in docs/operations.md before starting it again",
        )
        log.event(logger, logging.ERROR, "database_lost", error=self.lost.one_line())
        notify_systemd(f"STATUS=STOPPED: {self.lost.message}")
        self.stopping.set()

    async def _start_health(self, listen: tuple[str, int] | None, *, startup: bool) -> None:
        """Start (or move, or stop) the HTTP endpoint; at start a failure is fatal, on reload it is reported."""
        current = self.health_server
        if current is not None:
            await current.close()
            self.health_server = None
        address = None
        if listen is not None:
            if self.metrics_snapshot is None:
                self.metrics_snapshot = MetricsSnapshot(self.settings.database, self.metrics_renderer)
            server = HealthServer(self.metrics_snapshot.text, self.health)
            try:
                address = await server.start(*listen)
            except OSError as error:
                message = f"health.listen: cannot listen on {listen[0]}:{listen[1]}: {error.strerror or error}"
                if startup:
                    raise ConfigError(message, location=str(self.config_path)) from None
                log.event(logger, logging.ERROR, "health_failed", error=message)
            else:
                self.health_server = server
                log.event(logger, logging.INFO, "health_listening", address=address)
        assert self.store is not None
        with contextlib.suppress(MonitorError):
            self.store.daemon_update(self.clock(), health=address)

    # -- reload ------------------------------------------------------------------------------------------------

    def request_reload(self, trigger: str, changed: Sequence[str] = ()) -> asyncio.Task[None]:
        """Ask for a reload; the task returned ends once one has run that began after this request.

        A request made while a reload runs waits for it and then, with every other request made meanwhile,
        causes one more reload: 100 SIGHUPs in a second cost two or three reloads, not a hundred.
        """
        self.reload_wanted.setdefault(trigger, set()).update(changed)
        if self.reloader is None or self.reloader.done():
            self.reloader = asyncio.ensure_future(self._reload_while_wanted())
            self._track(self.reloader)
        return self.reloader

    async def _reload_while_wanted(self) -> None:
        # Requests made while a reload runs collapse into one more after it. A signal's reload also starts no
        # sooner than RELOAD_SPACING after the one before, so a storm of SIGHUPs costs one reload a second even
        # when reloads are quick; the file watcher paces itself (a stat poll every `watch`, then settling).
        loop = asyncio.get_running_loop()
        while self.reload_wanted and not self.stopping.is_set():
            wait = self.last_reload_start + RELOAD_SPACING - loop.time()
            if set(self.reload_wanted) != {"file"} and wait > 0:
                await self._sleep(wait)
                continue
            wanted, self.reload_wanted = self.reload_wanted, {}
            self.last_reload_start = loop.time()
            await self.reload(",".join(sorted(wanted)), sorted({path for paths in wanted.values() for path in paths}))

    async def reload(self, trigger: str = "sighup", changed: Sequence[str] = ()) -> bool:
        """Re-read configuration and rules; on any error keep the running set and report it.

        Polls and deliveries in flight finish with the objects they started with; the next ones use the new
        set. The database cannot be switched while running: a changed `database` is reported and ignored.
        """
        async with self.reload_lock:
            notify_systemd("RELOADING=1")
            now = self.clock()
            files = ",".join(Path(path).name for path in changed) or None
            try:
                # In a thread: compiling 20,000 aliases takes seconds, and polls go on meanwhile.
                settings = await asyncio.to_thread(load_settings, self.config_path)
                runtime = await asyncio.to_thread(build_runtime, settings, now)
                unchanged = settings.targets == self.settings.targets and settings.daemon == self.settings.daemon
                notifier = self.notifier if unchanged else Notifier(settings.targets, timeout=settings.daemon.send_wait)
                assert self.store is not None
                states = self.store.sync_feeds(settings.feeds, now)
            except Exception as error:  # even a bug in a reload keeps the running set
                if isinstance(error, MonitorError):
                    self.reload_error = error.one_line()
                else:
                    logger.exception(log.format_fields("reload_crashed", {"error": repr(error)}))
                    self.reload_error = f"internal error: {error!r} (please report it)"
                # It goes to the log, /healthz, STATUS= and the database: no URL in it keeps its secrets.
                self.reload_error = redact_text(self.reload_error)
                self.metrics.reloads["failed"] += 1
                log.event(logger, logging.ERROR, "reload_failed", trigger=trigger, files=files, error=self.reload_error)
                self._record_reload(now, error=self.reload_error)
                self.status_line = self._status()
                notify_systemd(f"READY=1\nSTATUS={self.status_line}")
                self.watch_baseline = watch.snapshot(self.config_path, self.settings.rules_dir)
                return False
            if settings.database.resolve() != self.settings.database.resolve():
                log.event(
                    logger,
                    logging.WARNING,
                    "reload_ignored_database",
                    database=settings.database,
                    running=self.settings.database,
                    hint="restart the daemon to switch databases",
                )
                settings = dataclasses.replace(settings, database=self.settings.database)
            if (settings.concurrency, settings.per_host) != (self.slots.concurrency, self.slots.per_host):
                self.slots = FetchSlots(settings.concurrency, settings.per_host)  # polls under way keep theirs
            if settings.fetch != self.settings.fetch:
                assert self.fetcher is not None
                self.retired_fetchers.append(self.fetcher)  # polls in flight still use it; closed at stop
                self.fetcher = Fetcher(settings.fetch)
            old_listen = self.settings.daemon.health_listen
            self.settings, self.runtime, self.notifier, self.reload_error = settings, runtime, notifier, None
            self._schedule_feeds(settings.feeds, states)
            if settings.daemon.health_listen != old_listen:
                await self._start_health(settings.daemon.health_listen, startup=False)
            self.metrics.reloads["ok"] += 1
            self._record_reload(now, error=None, rules=len(runtime.ruleset.rules), feeds=len(settings.feeds))
            log.event(
                logger,
                logging.INFO,
                "reloaded",
                trigger=trigger,
                files=files,
                feeds=len(settings.feeds),
                rules=len(runtime.ruleset.rules),
                targets=",".join(runtime.target_names),
            )
            self.status_line = self._status()
            notify_systemd(f"READY=1\nSTATUS={self.status_line}")
            self.watch_baseline = watch.snapshot(self.config_path, settings.rules_dir)
            return True

    def _record_reload(self, now: datetime, *, error: str | None, rules: int = 0, feeds: int = 0) -> None:
        assert self.store is not None
        fields: dict[str, datetime | str | int | None] = {"last_reload_at": now, "last_reload_error": error}
        if error is None:
            fields.update(rules=rules, feeds=feeds, rules_loaded_at=now)
        try:
            self.store.daemon_update(now, **fields)
        except MonitorError as failure:
            log.event(logger, logging.ERROR, "heartbeat_failed", error=failure.one_line())

    async def _watch_loop(self) -> None:
        """Reload when the configuration file or a rule file changes (a stat poll every `[daemon] watch`)."""
        while not self.stopping.is_set():
            period = self.settings.daemon.watch
            await self._sleep(period or 5.0)
            if self.stopping.is_set() or not period:
                continue
            rules_dir = self.settings.rules_dir
            current = watch.snapshot(self.config_path, rules_dir)
            if current == self.watch_baseline:
                continue
            current = await watch.settled(self.config_path, rules_dir, current)
            changed = watch.changed_paths(self.watch_baseline, current)
            if self.stopping.is_set() or not changed:
                continue
            await self.request_reload("file", changed)

    # -- stop --------------------------------------------------------------------------------------------------

    async def _stop(self, delivery_task: asyncio.Task[None], helpers: list[asyncio.Task[None]]) -> None:
        """Pause the scheduler, let in-flight polls and deliveries finish within the deadline, close."""
        notify_systemd("STOPPING=1")
        stop_started = time.monotonic()
        deadline = self.settings.daemon.stop_timeout
        log.event(logger, logging.INFO, "stopping", in_flight=len(self.in_flight), deadline=f"{deadline:g}s")
        assert self.scheduler is not None
        assert self.store is not None
        assert self.fetcher is not None
        self.scheduler.pause()
        self.deliveries_due.set()
        # The delivery round under way starts no new send (it sees `stopping`); the sends running are waited
        # for with the polls. What is still running at the deadline is cut off: a poll is redone next start,
        # a send's deliveries stay pending (its daemon thread dies with the process, so it never completes
        # unrecorded), never both sent and pending.
        pending = [task for task in self.in_flight if not task.done()] + [delivery_task]
        everything: asyncio.Future[Any] = asyncio.gather(*pending, return_exceptions=True)
        forced: asyncio.Future[Any] = asyncio.ensure_future(self.abandon.wait())
        await asyncio.wait([everything, forced], timeout=deadline, return_when=asyncio.FIRST_COMPLETED)
        sends: asyncio.Future[Any] = asyncio.gather(*self.sends.running(), return_exceptions=True)
        left = max(0.0, deadline - (time.monotonic() - stop_started))
        if not self.abandon.is_set() and left:
            await asyncio.wait([sends, forced], timeout=left, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        not_done = [task for task in [*pending, *self.sends.running()] if not task.done()]
        for task in not_done:
            task.cancel()
        if not_done:
            await asyncio.wait(not_done, timeout=2.0)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(everything, timeout=0.1)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(sends, timeout=0.1)
        self.scheduler.shutdown(wait=False)
        if self.health_server is not None:
            await self.health_server.close()
        if self.metrics_snapshot is not None:
            await self.metrics_snapshot.close()
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        for fetcher in (self.fetcher, *self.retired_fetchers):
            await fetcher.aclose()
        if self.parser is not None:
            self.parser.close()
        now = self.clock()
        with contextlib.suppress(MonitorError):
            self.store.daemon_update(now, stopped_at=now, polls=self.polls, last_poll_at=self.last_poll_at, health=None)
        self.store.close()
        log.event(logger, logging.INFO, "stopped", abandoned=len(not_done), polls=self.polls)
