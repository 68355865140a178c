"""The daemon: APScheduler runs one job per feed, a delivery loop sends alerts, signals stop and reload it.

`run_once` polls every feed once and delivers (cron-style); `Daemon` runs until SIGTERM/SIGINT, reloads
configuration and rules on SIGHUP (keeping the last good set when the new one is invalid) and tells systemd
where it stands through $NOTIFY_SOCKET. All decisions live in pipeline.py and schedule.py; this module only
wires the I/O objects together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import log
from monitor.config import Settings, load_settings
from monitor.errors import MonitorError
from monitor.fetch import Fetcher
from monitor.model import FeedConfig
from monitor.notify import Notifier
from monitor.pipeline import (
    Clock,
    DeliveryReport,
    PollOutcome,
    Runtime,
    build_runtime,
    deliver_pending,
    poll_all,
    poll_feed,
)
from monitor.store import Store

logger = log.get("service")

STOP_DEADLINE = 20.0
"""Seconds a stop waits for in-flight polls and deliveries before abandoning them."""

DELIVERY_PERIOD = 30.0
"""Seconds between delivery rounds when no poll has queued anything (retries come due on this beat)."""


def utc_now() -> datetime:
    """The wall clock, in UTC (the default clock; tests pass their own)."""
    return datetime.now(UTC)


def notify_systemd(message: str) -> None:
    """Send a sd_notify datagram (READY=1, STATUS=..., STOPPING=1) when run under systemd; else nothing."""
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
) -> OnceReport:
    """Poll every feed once, deliver everything queued (retries included) and return what happened.

    Alerts are delivered as soon as the poll that raised them ends, so a slow feed delays nobody's alerts.
    Deliveries queued by earlier runs are retried first, whatever their back-off. Feeds in back-off after
    errors are skipped unless `force`.
    """
    store = Store.open(settings.database)
    fetcher = Fetcher(settings.fetch)
    try:
        runtime = build_runtime(settings, clock())
        store.sync_feeds(settings.feeds, clock())
        notifier = notifier or Notifier(settings.targets)
        delivery = await deliver_pending(
            store=store, notifier=notifier, runtime=runtime, clock=clock, ignore_backoff=True
        )
        alerts_waiting = asyncio.Event()
        polling_finished = False

        async def deliver_as_alerts_arrive() -> None:
            while True:
                await alerts_waiting.wait()
                alerts_waiting.clear()
                delivery.absorb(await deliver_pending(store=store, notifier=notifier, runtime=runtime, clock=clock))
                if polling_finished and not alerts_waiting.is_set():
                    return

        def polled(outcome: PollOutcome) -> None:
            if outcome.alerts:
                alerts_waiting.set()
            if on_done is not None:
                on_done(outcome)

        deliverer = asyncio.ensure_future(deliver_as_alerts_arrive())
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
            )
        finally:
            polling_finished = True
            alerts_waiting.set()
            await deliverer
        return OnceReport(outcomes, delivery)
    finally:
        await fetcher.aclose()
        store.close()


class Daemon:
    """The long-running service. One instance per process; `run()` returns the exit code."""

    def __init__(self, config_path: Path, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.config_path = config_path
        self.settings = settings
        self.clock = clock
        self.rng = random.Random()
        self.stopping = asyncio.Event()
        self.deliveries_due = asyncio.Event()
        self.in_flight: set[asyncio.Task[object]] = set()
        self.store: Store | None = None
        self.fetcher: Fetcher | None = None
        self.notifier: Notifier | None = None
        self.runtime: Runtime | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.reload_error: str | None = None

    async def run(self) -> int:
        """Start, serve until a stop signal, stop gracefully; 0 on a clean stop."""
        loop = asyncio.get_running_loop()
        now = self.clock()
        self.runtime = build_runtime(self.settings, now)
        self.store = Store.open(self.settings.database)
        self.store.sync_feeds(self.settings.feeds, now)
        self.fetcher = Fetcher(self.settings.fetch)
        self.notifier = Notifier(self.settings.targets)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self._schedule_feeds(self.settings.feeds, first=True)
        self.scheduler.start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._track(asyncio.ensure_future(self.reload())))
        delivery_task = asyncio.ensure_future(self._delivery_loop())
        log.event(
            logger,
            logging.INFO,
            "started",
            feeds=len(self.settings.feeds),
            rules=len(self.runtime.ruleset.rules),
            targets=",".join(self.runtime.target_names),
            database=self.settings.database,
        )
        notify_systemd(f"READY=1\nSTATUS=watching {len(self.settings.feeds)} feeds")
        await self.stopping.wait()
        await self._stop(delivery_task)
        return 0

    def _schedule_feeds(self, feeds: tuple[FeedConfig, ...], *, first: bool) -> None:
        assert self.scheduler is not None
        wanted = {feed.url: feed for feed in feeds if feed.enabled}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        now = self.clock()
        for index, feed in enumerate(wanted.values()):
            existing = self.scheduler.get_job(feed.url)
            if existing is not None and not first:
                existing.modify(args=(feed,))
                existing.reschedule("interval", seconds=feed.interval, jitter=self.settings.jitter)
                continue
            # Spread the first polls over a few seconds so a restart does not hit every server at once.
            start = now + timedelta(seconds=min(index * 0.2, 30.0))
            self.scheduler.add_job(
                self._poll_job,
                "interval",
                seconds=feed.interval,
                jitter=self.settings.jitter,
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
        assert self.store is not None
        assert self.fetcher is not None
        assert self.runtime is not None
        try:
            outcome = await poll_feed(
                feed, store=self.store, fetcher=self.fetcher, runtime=self.runtime, clock=self.clock
            )
        except MonitorError as error:
            log.event(logger, logging.ERROR, "poll_failed", feed=feed.name, error=error.one_line())
            return
        except Exception as error:  # a bug must not kill the scheduler's other jobs
            logger.exception(log.format_fields("poll_crashed", {"feed": feed.name, "error": repr(error)}))
            return
        if outcome.alerts:
            self.deliveries_due.set()

    async def _delivery_loop(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliveries_due.wait(), timeout=DELIVERY_PERIOD)
            self.deliveries_due.clear()
            if self.stopping.is_set():
                break
            assert self.store is not None
            assert self.notifier is not None
            assert self.runtime is not None
            try:
                await deliver_pending(
                    store=self.store, notifier=self.notifier, runtime=self.runtime, clock=self.clock, rng=self.rng
                )
            except MonitorError as error:
                log.event(logger, logging.ERROR, "delivery_failed", error=error.one_line())

    async def reload(self) -> bool:
        """Re-read configuration and rules; on any error keep the running set and report it."""
        try:
            settings = load_settings(self.config_path)
            runtime = build_runtime(settings, self.clock())
        except MonitorError as error:
            self.reload_error = error.one_line()
            log.event(logger, logging.ERROR, "reload_failed", error=self.reload_error, kept="previous rules")
            notify_systemd(f"STATUS=reload failed, running previous configuration: {self.reload_error}")
            return False
        assert self.store is not None
        self.store.sync_feeds(settings.feeds, self.clock())
        if settings.targets != self.settings.targets:
            self.notifier = Notifier(settings.targets)
        self.settings, self.runtime, self.reload_error = settings, runtime, None
        self._schedule_feeds(settings.feeds, first=False)
        log.event(logger, logging.INFO, "reloaded", feeds=len(settings.feeds), rules=len(runtime.ruleset.rules))
        notify_systemd(f"STATUS=reloaded: watching {len(settings.feeds)} feeds")
        return True

    async def _stop(self, delivery_task: asyncio.Task[None]) -> None:
        """Pause the scheduler, let in-flight polls and deliveries finish within the deadline, close."""
        notify_systemd("STOPPING=1")
        log.event(logger, logging.INFO, "stopping", in_flight=len(self.in_flight))
        assert self.scheduler is not None
        assert self.store is not None
        assert self.fetcher is not None
        self.scheduler.pause()
        self.deliveries_due.set()
        pending = [task for task in self.in_flight if not task.done()] + [delivery_task]
        _, not_done = await asyncio.wait(pending, timeout=STOP_DEADLINE)
        for task in not_done:
            task.cancel()
        if not_done:
            await asyncio.wait(not_done, timeout=2.0)
        self.scheduler.shutdown(wait=False)
        await self.fetcher.aclose()
        self.store.close()
        log.event(logger, logging.INFO, "stopped", abandoned=len(not_done))
