"""The coordinator: poll one feed end to end, and deliver what is queued. The only module importing every stage.

poll_feed: store (feed state) -> fetch -> parse -> store.unseen -> match -> store.record_entries (entries,
matches, alerts and deliveries in one transaction) -> store (new feed state and next check).
deliver_pending: store.claim_deliveries -> digest.plan (alone now, one digest now, or held: digest slots,
quiet hours, storm control) -> render -> notify, per target, marking each delivery only after the target
confirmed it. The I/O objects (store, fetcher, notifier, clock) are passed in.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import multiprocessing
import os
import random
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from monitor import digest, log, parseworker, schedule
from monitor.config import Settings
from monitor.errors import FetchError, RuleError
from monitor.fetch import Fetcher, describe_feed
from monitor.match import Matcher
from monitor.model import Entry, FeedConfig, Match, TargetConfig, severity_rank
from monitor.notify import CONSOLE_TARGET, Notifier
from monitor.parse import ParsedFeed, parse_feed
from monitor.redact import redact_url, without_credentials
from monitor.render import NO_TEMPLATES, Message, Templates, render_alert, render_digest
from monitor.rules import RuleSet, load_rules
from monitor.store import NewEntry, PendingDelivery, Store, StoryOptions

logger = log.get("pipeline")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Runtime:
    """The configuration and compiled rules that polls use; replaced whole when they are reloaded."""

    settings: Settings
    ruleset: RuleSet
    matcher: Matcher
    loaded_at: datetime
    templates: Templates = NO_TEMPLATES  # the user's message templates (monitor.templates)

    @property
    def stories(self) -> StoryOptions | None:
        """How new alerts are grouped into stories; None when `[stories] window` is 0."""
        if self.settings.story_window <= 0:
            return None
        updates = frozenset(rule.name for rule in self.ruleset.rules if rule.updates)
        return StoryOptions(window=self.settings.story_window, updates=updates)

    def target(self, name: str) -> TargetConfig | None:
        """The configured target called `name` (None for the console or a target no longer configured)."""
        return next((target for target in self.settings.targets if target.name == name), None)

    @property
    def target_names(self) -> tuple[str, ...]:
        """Targets alerts go to: the configured ones, or the console when none is configured."""
        return tuple(target.name for target in self.settings.targets) or (CONSOLE_TARGET,)

    def route(self, match: Match) -> tuple[str, ...]:
        """The targets that take this match: the rule's own `targets`, each target's rules and min severity."""
        if not self.settings.targets:
            return (CONSOLE_TARGET,)
        chosen = []
        for target in self.settings.targets:
            if match.targets and target.name not in match.targets:
                continue
            if target.rules and match.rule not in target.rules:
                continue
            if severity_rank(match.severity) < severity_rank(target.min_severity):
                continue
            chosen.append(target.name)
        return tuple(chosen)


def build_runtime(settings: Settings, now: datetime, rules_dir: Path | None = None) -> Runtime:
    """Load and compile the rules named by the settings; rules naming unknown targets are an error."""
    ruleset = load_rules(settings.rules_dir if rules_dir is None else rules_dir)
    if settings.targets:
        known = {target.name for target in settings.targets}
        for rule in ruleset.rules:
            unknown = [name for name in rule.targets if name not in known]
            if unknown:
                raise RuleError(
                    f"rule {rule.name!r} sends to unknown target(s) {', '.join(unknown)}",
                    location=rule.location,
                    hint=f"targets in {settings.path}: {', '.join(sorted(known))}",
                )
    from monitor.templates import load_templates

    templates = load_templates(settings.templates)
    return Runtime(settings=settings, ruleset=ruleset, matcher=Matcher(ruleset), loaded_at=now, templates=templates)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed did, for logs, progress and `run --once`'s summary."""

    feed: str
    url: str  # redacted (monitor.redact): this is shown, never fetched
    status: str  # "ok", "not_modified", "unchanged", "error", "skipped", "disabled"
    new_entries: int = 0
    alerts: int = 0
    error: str | None = None
    error_kind: str | None = None


def feed_label(name: str, url: str) -> str:
    """How a feed is named in errors: its name and (masked) URL, as fetch errors name it."""
    return describe_feed(url, name)


async def poll_feed(
    feed: FeedConfig,
    *,
    store: Store,
    fetcher: Fetcher,
    runtime: Runtime,
    clock: Clock,
    honour_interval: bool = True,
    force: bool = False,
    parser: ParsePool | None = None,
) -> PollOutcome:
    """Poll one feed: fetch, parse, record new entries with their matches and alerts, save the feed's state.

    Never raises for a feed problem: fetch and parse failures are counted on the feed and returned.
    A feed waiting out an error back-off is skipped unless `force`. `parser` parses in worker processes;
    without it feedparser runs in a thread.
    """
    state = store.feed_state(feed.url, count_entries=False)
    now = clock()
    if state.disabled:
        return PollOutcome(feed.name, redact_url(state.url), "disabled")
    if not force and not schedule.is_due(state, now, honour_interval=honour_interval):
        return PollOutcome(feed.name, redact_url(state.url), "skipped")
    label = feed_label(feed.name, state.url)
    try:
        result = await fetcher.fetch(state.url, etag=state.etag, last_modified=state.last_modified, name=feed.name)
    except FetchError as error:
        return _record_error(store, feed, state.feed_id, state.error_count, error, clock(), label)

    now = clock()
    new_url = result.permanent_url or state.url
    if new_url != state.url:
        old_url, shown_url = redact_url(state.url), redact_url(new_url)
        log.event(logger, logging.INFO, "feed_moved", feed=feed.name, old=old_url, url=shown_url)

    def save_success(etag: str | None, last_modified: str | None, body_hash: str | None) -> None:
        """The poll succeeded: new validators and URL, errors cleared, next check one interval on."""
        store.save_fetch_ok(
            state.feed_id,
            now=now,
            url=new_url,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            next_check=schedule.after_success(now, feed.interval),
        )

    if result.status == "not_modified":
        save_success(result.etag or state.etag, result.last_modified or state.last_modified, state.body_hash)
        return PollOutcome(feed.name, redact_url(new_url), "not_modified")

    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == state.body_hash:
        # Servers without validators resend the same body: skip parsing and matching entirely.
        save_success(result.etag, result.last_modified, body_hash)
        return PollOutcome(feed.name, redact_url(new_url), "unchanged")

    base = without_credentials(result.url)  # relative links resolve against it: never into the feed's password
    if parser is not None:
        parsed = await parser.parse(result.body, url=base, headers=result.headers)
    else:
        parsed = await asyncio.to_thread(parse_feed, result.body, url=base, headers=result.headers)
    if not parsed.is_feed:
        links_to = f" (the page links to a feed: {parsed.feed_links[0]})" if parsed.feed_links else ""
        not_a_feed = FetchError(
            f"the document is not an RSS or Atom feed{links_to}",
            kind="not_a_feed",
            location=label,
            hint="check the URL; an HTML page may link to its feed",
        )
        return _record_error(store, feed, state.feed_id, state.error_count, not_a_feed, clock(), label)
    if parsed.problem:
        shown_url = redact_url(new_url)
        log.event(logger, logging.DEBUG, "feed_malformed", feed=feed.name, url=shown_url, problem=parsed.problem)
    if parsed.dropped:  # parse.reduce_markup left items out to bound the parse (docs/robustness.md)
        shown_url = redact_url(new_url)
        log.event(logger, logging.WARNING, "feed_trimmed", feed=feed.name, url=shown_url, items_left_out=parsed.dropped)

    new = store.unseen(state.feed_id, parsed.entries)
    matches = await asyncio.to_thread(_match_all, runtime.matcher, new) if new else []
    first_poll = state.last_success is None
    now = clock()
    backfill_since = now - timedelta(seconds=runtime.settings.backfill)
    items = [
        NewEntry(entry=entry, matches=tuple(found), alert=_should_alert(entry, first_poll, backfill_since))
        for entry, found in zip(new, matches, strict=True)
    ]
    with store.transaction():  # the new entries and the feed's new state: one commit, one fsync
        recorded = store.record_entries(state.feed_id, items, now=now, route=runtime.route, stories=runtime.stories)
        save_success(result.etag, result.last_modified, body_hash)
    log.event(
        logger,
        logging.INFO,
        "feed_polled",
        feed=feed.name,
        url=redact_url(new_url),
        entries=len(parsed.entries),
        new=recorded.entries,
        alerts=recorded.alerts,
    )
    return PollOutcome(feed.name, redact_url(new_url), "ok", new_entries=recorded.entries, alerts=recorded.alerts)


def _match_all(matcher: Matcher, entries: Sequence[Entry]) -> list[list[Match]]:
    return [matcher.match(entry) for entry in entries]


PARSE_POOL_MIN_FEEDS = 50
"""Below this many feeds parsing never adds up to much: feedparser runs in a thread, no worker processes."""


class ParsePool:
    """Runs `parse_feed` in worker processes, one per core: feedparser is pure Python, so threads share one core.

    A 100 KB feed takes feedparser about 50 ms of CPU, 70 % of a cold poll. Workers start on first use (a cycle
    in which nothing changed starts none) as fresh interpreters importing monitor.parse. If a worker dies
    (killed for memory, say) that feed is parsed in a thread, as without a pool, and the pool is replaced;
    after MAX_BROKEN broken pools (workers cannot start, e.g. an unguarded __main__) threads are used for good.
    """

    MAX_BROKEN = 3

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._broken = 0

    @classmethod
    def for_feeds(cls, feeds: int) -> ParsePool | None:
        """A pool when this process may use several cores and there are enough feeds to pay for the workers."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if cores < 2 or feeds < PARSE_POOL_MIN_FEEDS:
            return None
        return cls(cores)

    async def parse(self, body: bytes, *, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        """`parse_feed(body, url=url, headers=headers)`, computed in a worker process."""
        job = functools.partial(parse_feed, body, url=url, headers=dict(headers))
        if self._broken >= self.MAX_BROKEN:
            return await asyncio.to_thread(job)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=_worker_context(), initializer=parseworker.exit_with, initargs=(os.getpid(),)
            )
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, job)
        except BrokenProcessPool:
            if self._executor is executor:
                self._executor = None
                self._broken += 1
                executor.shutdown(wait=False, cancel_futures=True)
                log.event(logger, logging.WARNING, "parser_process_died", url=redact_url(url), fallback="thread")
            return await asyncio.to_thread(job)

    def close(self) -> None:
        """Stop the worker processes (waits for parses under way)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _worker_context() -> multiprocessing.context.BaseContext:
    # spawn: fresh interpreters, never a fork of this threaded process. A forkserver would start workers
    # faster, but it is one more ~23 MB process for the whole run, and the pool starts once.
    return multiprocessing.get_context("spawn")


def _should_alert(entry: Entry, first_poll: bool, backfill_since: datetime) -> bool:
    """On a feed's first poll only recent entries alert (undated ones are taken as old); later, every new one."""
    if not first_poll:
        return True
    return entry.published is not None and entry.published >= backfill_since


def _record_error(
    store: Store,
    feed: FeedConfig,
    feed_id: int,
    previous_errors: int,
    error: FetchError,
    now: datetime,
    label: str,
) -> PollOutcome:
    errors = previous_errors + 1
    next_check = schedule.after_error(now, feed.interval, errors, error.retry_after)
    disable = error.kind == "gone"
    store.save_fetch_error(feed_id, now=now, error=error.message, next_check=next_check, disable=disable)
    # One failure is a warning; a feed that keeps failing (or is gone for good) is an error.
    level = logging.ERROR if disable or errors >= 5 else logging.WARNING
    log.event(
        logger,
        level,
        "feed_disabled" if disable else "feed_failed",
        feed=feed.name,
        url=redact_url(feed.url),
        kind=error.kind,
        errors=errors,
        error=error.message,
        next_check=next_check.isoformat(timespec="seconds"),
    )
    return PollOutcome(
        feed.name, redact_url(feed.url), "error", error=f"{label}: {error.message}", error_kind=error.kind
    )


async def poll_all(
    feeds: Iterable[FeedConfig],
    *,
    store: Store,
    fetcher: Fetcher,
    runtime: Runtime,
    clock: Clock,
    honour_interval: bool = True,
    force: bool = False,
    on_done: Callable[[PollOutcome], None] | None = None,
    parser: ParsePool | None = None,
) -> list[PollOutcome]:
    """Poll feeds concurrently (at most `concurrency` at once, `per_host` per host); one slow feed blocks none."""
    settings = runtime.settings
    overall = asyncio.Semaphore(settings.concurrency)
    per_host: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(settings.per_host))

    async def one(feed: FeedConfig) -> PollOutcome:
        # The host's slot first: a feed queued behind its busy host must not hold one of the overall slots.
        async with per_host[urlsplit(feed.url).hostname or ""], overall:
            outcome = await poll_feed(
                feed,
                store=store,
                fetcher=fetcher,
                runtime=runtime,
                clock=clock,
                honour_interval=honour_interval,
                force=force,
                parser=parser,
            )
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(feed) for feed in feeds if feed.enabled)))


CLAIM_LEASE = 120.0
"""Seconds a claim on a delivery lasts unless renewed; a running send renews it every third of that. A process
that dies holding claims frees them when it is found gone (same host) or when they lapse (another host)."""


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0  # deliveries confirmed, alone or in a digest
    failed: int = 0  # deliveries that failed and will be retried
    dead: int = 0  # deliveries given up
    failing_targets: list[str] = field(default_factory=list)
    digests: int = 0  # digest messages confirmed
    held: int = 0  # deliveries held for a later digest (schedule, quiet hours, storm control)
    in_flight: int = 0  # deliveries whose send was still running when the round stopped waiting for it
    cut_off: int = 0  # deliveries whose send was still running at exit: cut off, they stay pending
    held_elsewhere: int = 0  # due deliveries another process (a daemon, a run --once) is sending

    def absorb(self, other: DeliveryReport) -> None:
        """Add another round's figures to this one."""
        self.sent += other.sent
        self.failed += other.failed
        self.dead += other.dead
        self.failing_targets.extend(t for t in other.failing_targets if t not in self.failing_targets)
        self.digests += other.digests
        self.held += other.held
        self.in_flight += other.in_flight
        self.cut_off += other.cut_off
        self.held_elsewhere = max(self.held_elsewhere, other.held_elsewhere)


@dataclass
class _Sink:
    """Where a send's outcome is counted: its round's report, or `Sends.late` once the round stopped waiting."""

    report: DeliveryReport
    retry_at: datetime | None = None  # the send failed: when its retry is due (the target's other alerts wait too)


class Sends:
    """The sends that outlived their round: at most one per target, each still holding its deliveries' claims.

    A round waits `Notifier.timeout` seconds for a send; then the send runs on (apprise cannot be interrupted
    without losing track of whether the message went out), its target is skipped by later rounds, and its
    outcome is recorded when it comes, counted in `late`. `wait` lets a stop or `run --once` wait for them.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[bool]] = {}
        self._sizes: dict[asyncio.Task[bool], int] = {}
        self.late = DeliveryReport()

    def busy(self) -> frozenset[str]:
        """The targets with a send still running."""
        return frozenset(target for target, task in self._tasks.items() if not task.done())

    def running(self) -> list[asyncio.Task[bool]]:
        """The sends still running."""
        return [task for task in self._tasks.values() if not task.done()]

    def deliveries_running(self) -> int:
        """How many deliveries the running sends carry."""
        return sum(self._sizes.get(task, 0) for task in self.running())

    def add(self, target: str, task: asyncio.Task[bool], deliveries: int) -> None:
        self._tasks[target] = task
        self._sizes[task] = deliveries

        def forget(done: asyncio.Task[bool]) -> None:
            self._sizes.pop(done, None)
            if self._tasks.get(target) is done:
                del self._tasks[target]

        task.add_done_callback(forget)

    def take_late(self) -> DeliveryReport:
        """The outcomes of sends that finished after their round, since the last call."""
        late, self.late = self.late, DeliveryReport()
        return late


async def deliver_pending(
    *,
    store: Store,
    notifier: Notifier,
    runtime: Runtime,
    clock: Clock,
    ignore_backoff: bool = False,
    rng: random.Random | None = None,
    skip_targets: Collection[str] = (),
    sends: Sends | None = None,
    stop: asyncio.Event | None = None,
) -> DeliveryReport:
    """Send every due delivery, each target on its own so a dead target delays no other.

    The due deliveries are claimed first (Store.claim_deliveries), so another process on the same database
    never sends the same ones; those another process holds are counted in `held_elsewhere`. Per target,
    monitor.digest.plan decides what goes alone now, what goes in one digest now and what is held (digest
    schedule, quiet hours, storm control); holds are saved before anything is sent. A delivery is marked
    delivered only after the target confirmed the message carrying it; a failure counts an attempt and
    schedules a retry with back-off, or marks it dead past the configured attempts or age. After a target's
    first failure in a round its remaining alerts wait for the next round instead of hammering it. A send that
    takes longer than `notifier.timeout` runs on in `sends` (see Sends); its target is skipped until it ends.
    `ignore_backoff` (run --once) retries failed deliveries now, but never sends a held one early.
    `skip_targets` are left alone this round (run --once: targets that already failed during the run). Once
    `stop` is set, no further send starts (the daemon is stopping); the deliveries not sent stay pending.
    """
    rng = rng or random.Random()
    sends = sends if sends is not None else Sends()
    stop = stop or asyncio.Event()
    now = clock()
    due = now + timedelta(days=36500) if ignore_backoff else now
    claimed = store.claim_deliveries(
        now, lease=CLAIM_LEASE, due=due, held_by=now, limit=10_000, skip_targets={*skip_targets, *sends.busy()}
    )
    by_target: dict[str, list[PendingDelivery]] = defaultdict(list)
    for pending in claimed.deliveries:
        by_target[pending.target].append(pending)
    report = DeliveryReport(held_elsewhere=claimed.held_elsewhere)
    await asyncio.gather(
        *(
            _deliver_to_target(target, deliveries, store, notifier, runtime, clock, rng, report, sends, stop)
            for target, deliveries in by_target.items()
        )
    )
    return report


async def _deliver_to_target(
    target: str,
    deliveries: Sequence[PendingDelivery],
    store: Store,
    notifier: Notifier,
    runtime: Runtime,
    clock: Clock,
    rng: random.Random,
    report: DeliveryReport,
    sends: Sends,
    stop: asyncio.Event,
) -> None:
    """One target's share of a round; the claims on deliveries it did not try are given back at the end."""
    untried = {pending.delivery_id for pending in deliveries}
    try:
        await _deliver_claimed(target, deliveries, store, notifier, runtime, clock, rng, report, sends, stop, untried)
    finally:
        if untried:
            store.release_claims(untried)


async def _deliver_claimed(
    target: str,
    deliveries: Sequence[PendingDelivery],
    store: Store,
    notifier: Notifier,
    runtime: Runtime,
    clock: Clock,
    rng: random.Random,
    report: DeliveryReport,
    sends: Sends,
    stop: asyncio.Event,
    untried: set[int],
) -> None:
    policy = digest.Policy.for_target(runtime.target(target), runtime.settings.tzinfo)
    now = clock()
    history = store.storm_history(target, now - timedelta(seconds=policy.storm_window)) if policy.storm_max else {}
    items = [
        digest.Item(
            pending.delivery_id,
            pending.alert.rule,
            pending.alert.severity,
            pending.queued_at or pending.alert.created_at or now,
            pending.batch,
            pending.held_until,
        )
        for pending in deliveries
    ]
    plan = digest.plan(now, policy, items, history)
    if plan.holds:
        store.hold_deliveries((hold.delivery_id, hold.batch, hold.until) for hold in plan.holds)
        untried.difference_update(hold.delivery_id for hold in plan.holds)
        report.held += len(plan.holds)
        reasons = ",".join(sorted({hold.batch for hold in plan.holds}))
        log.event(logger, logging.INFO, "alerts_held", target=target, held=len(plan.holds), reasons=reasons)
    by_id = {pending.delivery_id: pending for pending in deliveries}
    messages: list[tuple[list[PendingDelivery], str]] = [([by_id[i]], "alone") for i in plan.alone]
    if plan.digest is not None:
        messages.append(([by_id[i] for i in plan.digest.delivery_ids], ",".join(plan.digest.kinds)))
    for planned, kind in messages:
        if stop.is_set():
            return
        held = store.renew_claims([pending.delivery_id for pending in planned], clock(), CLAIM_LEASE)
        batch = [pending for pending in planned if pending.delivery_id in held]
        lost = [pending for pending in planned if pending.delivery_id not in held]
        if lost:  # this process was paused past its claims and another took them: it sends them, not us
            untried.difference_update(pending.delivery_id for pending in lost)
            log.event(logger, logging.WARNING, "claim_lost", target=target, alerts=len(lost))
            if not batch:
                continue
        if kind == "alone":
            message = render_alert(batch[0].alert, tz=policy.tz, templates=runtime.templates)
        else:
            message = render_digest(
                [pending.alert for pending in batch],
                tz=policy.tz,
                notices=digest.notices(plan.digest, policy) if plan.digest is not None else (),
                templates=runtime.templates,
            )
        untried.difference_update(pending.delivery_id for pending in batch)
        sink = _Sink(report)
        task = asyncio.ensure_future(
            _send_and_record(target, batch, kind, message, store, notifier, runtime, clock, rng, sink)
        )
        sends.add(target, task, len(batch))  # a stop waits for it (or cuts it off) whether or not this round still does
        done, _ = await asyncio.wait({task}, timeout=notifier.timeout)
        if not done:
            sink.report = sends.late  # counted when it ends, whenever that is
            report.in_flight += len(batch)
            log.event(
                logger,
                logging.WARNING,
                "send_slow",
                target=target,
                alerts=len(batch),
                waited=f"{notifier.timeout:g}s",
                note="still sending; its alerts stay claimed until the target answers",
            )
            return
        if not task.result():
            # The target failed: its other alerts wait for the same retry time instead of hammering it.
            if sink.retry_at is not None and untried:
                store.defer_deliveries(untried, sink.retry_at)
                untried.clear()
            return


async def _send_and_record(
    target: str,
    batch: Sequence[PendingDelivery],
    kind: str,
    message: Message,
    store: Store,
    notifier: Notifier,
    runtime: Runtime,
    clock: Clock,
    rng: random.Random,
    sink: _Sink,
) -> bool:
    """Send one message (an alert alone or a digest), renewing its claims while it runs; record the outcome.

    Cancelled (the process stops) while the send runs: the outcome is recorded if it came, else the claims are
    given back so the deliveries stay pending, never recorded sent (a send cut off by the exit did not finish).
    """
    ids = [pending.delivery_id for pending in batch]
    future = notifier.start_send(target, message)
    waiting = asyncio.wrap_future(future)
    try:
        while not future.done():
            await asyncio.wait({waiting}, timeout=CLAIM_LEASE / 3)
            if not future.done():
                store.renew_claims(ids, clock(), CLAIM_LEASE)
    except asyncio.CancelledError:
        if not future.done():
            store.release_claims(ids)
            log.event(logger, logging.WARNING, "send_interrupted", target=target, alerts=len(ids), kept="pending")
            raise
    result = future.result()
    if not result.ok:
        sink.retry_at = _record_failure(batch, target, result.error, store, runtime, clock(), rng, sink.report)
        return False
    if kind == "alone":
        store.mark_delivered(ids[0], clock())
        sink.report.sent += 1
        alert = batch[0].alert
        log.event(logger, logging.INFO, "alert_sent", target=target, rule=alert.rule, alert=alert.alert_id)
    else:
        store.mark_all_delivered(ids, clock())
        sink.report.sent += len(batch)
        sink.report.digests += 1
        log.event(logger, logging.INFO, "digest_sent", target=target, alerts=len(batch), kinds=kind)
    return True


def _record_failure(
    batch: Sequence[PendingDelivery],
    target: str,
    error: str | None,
    store: Store,
    runtime: Runtime,
    now: datetime,
    rng: random.Random,
    report: DeliveryReport,
) -> datetime:
    """One message (an alert or a digest) failed: count an attempt on each delivery it carried.

    The deliveries of one digest retry together (one back-off, from the most-tried one); each is dead once it
    reached the configured attempts or age (counted from when it was queued). Returns when the retry is due.
    """
    retry = runtime.settings.retry
    attempts = max(pending.attempts for pending in batch) + 1
    wait = schedule.delivery_backoff(attempts, retry.first, retry.max, rng.random())
    for pending in batch:
        tried = pending.attempts + 1
        queued = pending.queued_at or pending.alert.created_at or now
        dead = tried >= retry.max_attempts or (now - queued).total_seconds() >= retry.max_age
        store.mark_failed(
            pending.delivery_id, now, error or "delivery failed", now + timedelta(seconds=wait), dead=dead
        )
        report.dead += int(dead)
        report.failed += int(not dead)
        log.event(
            logger,
            logging.ERROR if dead else logging.WARNING,
            "alert_dead" if dead else "alert_failed",
            target=target,
            alert=pending.alert.alert_id,
            attempts=tried,
            error=error,
            retry_in=None if dead else f"{wait:.0f}s",
        )
    report.failing_targets.append(target)
    return now + timedelta(seconds=wait)
