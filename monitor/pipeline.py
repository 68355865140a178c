"""The coordinator: poll one feed end to end, and deliver what is queued. The only module importing every stage.

poll_feed: store (feed state) -> fetch -> parse -> store.unseen -> match -> store.record_entries (entries,
matches, alerts and deliveries in one transaction) -> store (new feed state and next check).
deliver_pending: store.pending_deliveries -> render -> notify, per target, marking each delivery only after
the target confirmed it. The I/O objects (store, fetcher, notifier, clock) are passed in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from monitor import log, schedule
from monitor.config import Settings
from monitor.errors import FetchError, RuleError
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.model import Entry, FeedConfig, Match, severity_rank
from monitor.notify import CONSOLE_TARGET, Notifier
from monitor.parse import parse_feed
from monitor.render import render_alert
from monitor.rules import RuleSet, load_rules
from monitor.store import NewEntry, PendingDelivery, Store

logger = log.get("pipeline")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Runtime:
    """The configuration and compiled rules that polls use; replaced whole when they are reloaded."""

    settings: Settings
    ruleset: RuleSet
    matcher: Matcher
    loaded_at: datetime

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
    return Runtime(settings=settings, ruleset=ruleset, matcher=Matcher(ruleset), loaded_at=now)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed did, for logs, progress and `run --once`'s summary."""

    feed: str
    url: str
    status: str  # "ok", "not_modified", "unchanged", "error", "skipped", "disabled"
    new_entries: int = 0
    alerts: int = 0
    error: str | None = None
    error_kind: str | None = None


def feed_label(name: str, url: str) -> str:
    """How a feed is named in errors: its name and (masked) URL."""
    return f"feed {name!r} <{_mask_userinfo(url)}>"


def _mask_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


async def poll_feed(
    feed: FeedConfig,
    *,
    store: Store,
    fetcher: Fetcher,
    runtime: Runtime,
    clock: Clock,
    honour_interval: bool = True,
    force: bool = False,
) -> PollOutcome:
    """Poll one feed: fetch, parse, record new entries with their matches and alerts, save the feed's state.

    Never raises for a feed problem: fetch and parse failures are counted on the feed and returned.
    A feed waiting out an error back-off is skipped unless `force`.
    """
    state = store.feed_state(feed.url)
    now = clock()
    if state.disabled:
        return PollOutcome(feed.name, state.url, "disabled")
    if not force and not schedule.is_due(state, now, honour_interval=honour_interval):
        return PollOutcome(feed.name, state.url, "skipped")
    label = feed_label(feed.name, state.url)
    try:
        result = await fetcher.fetch(state.url, etag=state.etag, last_modified=state.last_modified, name=feed.name)
    except FetchError as error:
        return _record_error(store, feed, state.feed_id, state.error_count, error, clock(), label)

    now = clock()
    new_url = result.permanent_url or state.url
    if new_url != state.url:
        log.event(logger, logging.INFO, "feed_moved", feed=feed.name, old=state.url, url=_mask_userinfo(new_url))
    if result.status == "not_modified":
        store.save_fetch_ok(
            state.feed_id,
            now=now,
            url=new_url,
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
            body_hash=state.body_hash,
            next_check=schedule.after_success(now, feed.interval),
        )
        return PollOutcome(feed.name, new_url, "not_modified")

    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == state.body_hash:
        # Servers without validators resend the same body: skip parsing and matching entirely.
        store.save_fetch_ok(
            state.feed_id,
            now=now,
            url=new_url,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=body_hash,
            next_check=schedule.after_success(now, feed.interval),
        )
        return PollOutcome(feed.name, new_url, "unchanged")

    parsed = await asyncio.to_thread(parse_feed, result.body, url=result.url, headers=result.headers)
    if not parsed.is_feed:
        not_a_feed = FetchError(
            "the document is not an RSS or Atom feed",
            kind="not_a_feed",
            location=label,
            hint="check the URL; an HTML page may link to its feed",
        )
        return _record_error(store, feed, state.feed_id, state.error_count, not_a_feed, clock(), label)
    if parsed.problem:
        log.event(logger, logging.DEBUG, "feed_malformed", feed=feed.name, url=new_url, problem=parsed.problem)

    new = store.unseen(state.feed_id, parsed.entries)
    matches = await asyncio.to_thread(_match_all, runtime.matcher, new) if new else []
    first_poll = state.last_success is None
    now = clock()
    backfill_since = now - timedelta(seconds=runtime.settings.backfill)
    items = [
        NewEntry(entry=entry, matches=tuple(found), alert=_should_alert(entry, first_poll, backfill_since))
        for entry, found in zip(new, matches, strict=True)
    ]
    recorded = store.record_entries(state.feed_id, items, now=now, route=runtime.route)
    store.save_fetch_ok(
        state.feed_id,
        now=now,
        url=new_url,
        etag=result.etag,
        last_modified=result.last_modified,
        body_hash=body_hash,
        next_check=schedule.after_success(now, feed.interval),
    )
    log.event(
        logger,
        logging.INFO,
        "feed_polled",
        feed=feed.name,
        url=_mask_userinfo(new_url),
        entries=len(parsed.entries),
        new=recorded.entries,
        alerts=recorded.alerts,
    )
    return PollOutcome(feed.name, new_url, "ok", new_entries=recorded.entries, alerts=recorded.alerts)


def _match_all(matcher: Matcher, entries: Sequence[Entry]) -> list[list[Match]]:
    return [matcher.match(entry) for entry in entries]


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
        url=_mask_userinfo(feed.url),
        kind=error.kind,
        errors=errors,
        error=error.message,
        next_check=next_check.isoformat(timespec="seconds"),
    )
    return PollOutcome(feed.name, feed.url, "error", error=f"{label}: {error.message}", error_kind=error.kind)


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
) -> list[PollOutcome]:
    """Poll feeds concurrently (at most `concurrency` at once, `per_host` per host); one slow feed blocks none."""
    settings = runtime.settings
    overall = asyncio.Semaphore(settings.concurrency)
    per_host: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(settings.per_host))

    async def one(feed: FeedConfig) -> PollOutcome:
        async with overall, per_host[urlsplit(feed.url).hostname or ""]:
            outcome = await poll_feed(
                feed,
                store=store,
                fetcher=fetcher,
                runtime=runtime,
                clock=clock,
                honour_interval=honour_interval,
                force=force,
            )
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(feed) for feed in feeds if feed.enabled)))


@dataclass
class DeliveryReport:
    """What one delivery round did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    failing_targets: list[str] = field(default_factory=list)

    def absorb(self, other: DeliveryReport) -> None:
        """Add another round's figures to this one."""
        self.sent += other.sent
        self.failed += other.failed
        self.dead += other.dead
        self.failing_targets.extend(other.failing_targets)


async def deliver_pending(
    *,
    store: Store,
    notifier: Notifier,
    runtime: Runtime,
    clock: Clock,
    ignore_backoff: bool = False,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send every due delivery, each target on its own so a dead target delays no other.

    A delivery is marked delivered only after the target confirmed it; a failure counts an attempt and
    schedules a retry with back-off, or marks it dead past the configured attempts or age. After a target's
    first failure in a round its remaining alerts wait for the next round instead of hammering it.
    """
    rng = rng or random.Random()
    now = clock()
    due = now + timedelta(days=36500) if ignore_backoff else now
    by_target: dict[str, list[PendingDelivery]] = defaultdict(list)
    for pending in store.pending_deliveries(due, limit=10_000):
        by_target[pending.target].append(pending)
    report = DeliveryReport()
    await asyncio.gather(
        *(
            _deliver_to_target(target, deliveries, store, notifier, runtime, clock, rng, report)
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
) -> None:
    retry = runtime.settings.retry
    tz = runtime.settings.tzinfo
    for pending in deliveries:
        message = render_alert(pending.alert, tz=tz)
        result = await asyncio.to_thread(notifier.send, target, message)
        now = clock()
        if result.ok:
            store.mark_delivered(pending.delivery_id, now)
            report.sent += 1
            log.event(
                logger, logging.INFO, "alert_sent", target=target, rule=pending.alert.rule, alert=pending.alert.alert_id
            )
            continue
        attempts = pending.attempts + 1
        created = pending.alert.created_at or now
        dead = attempts >= retry.max_attempts or (now - created).total_seconds() >= retry.max_age
        wait = schedule.delivery_backoff(attempts, retry.first, retry.max, rng.random())
        store.mark_failed(
            pending.delivery_id, now, result.error or "delivery failed", now + timedelta(seconds=wait), dead=dead
        )
        report.dead += int(dead)
        report.failed += int(not dead)
        report.failing_targets.append(target)
        log.event(
            logger,
            logging.ERROR if dead else logging.WARNING,
            "alert_dead" if dead else "alert_failed",
            target=target,
            alert=pending.alert.alert_id,
            attempts=attempts,
            error=result.error,
            retry_in=None if dead else f"{wait:.0f}s",
        )
        return
