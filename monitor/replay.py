"""Replay: run a rule set over the entries already stored and show how its alerts would differ.

For rule changes: `monitor replay --rules DIR --since 30d` matches every entry first seen in that window with
the rules in DIR and compares the result with the matches stored when the entry arrived. "new" is a rule that
fires now where it did not (would have alerted), "gone" a stored match the rules no longer make (would no
longer alert; `alerted` says whether it did). Nothing is stored or sent: the store is only read. The first-poll
backfill and the targets' filters are not replayed, only the rules' verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.config import parse_duration
from monitor.match import Matcher
from monitor.store import Store


def parse_since(text: str, now: datetime) -> datetime:
    """A point in time from "30d", "12h", "1h30m" (that long before `now`) or a date "2026-11-01[T10:00Z]".

    A date without a time zone is taken as UTC. Raises ValueError with a one-line reason.
    """
    seconds = parse_duration(text.strip())
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a duration (30d, 12h) or a date (2026-11-01): {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ReplayChange:
    """One (entry, rule) pair on which the replayed rules disagree with what was stored."""

    change: str  # "new": the rule fires now and did not; "gone": it fired (was stored) and no longer does
    rule: str
    feed: str
    title: str
    link: str
    first_seen: datetime
    alerted: bool  # "gone": whether the stored match had raised an alert; "new": False
    severity: str | None = None  # "new": the rule's severity now
    matched: tuple[str, ...] = ()  # "new": the texts that matched


@dataclass
class ReplayReport:
    """What a replay found."""

    since: datetime
    entries: int = 0
    unchanged: int = 0  # (entry, rule) pairs matched both then and now
    changes: list[ReplayChange] = field(default_factory=list)

    @property
    def new(self) -> list[ReplayChange]:
        """Would alert now, did not."""
        return [change for change in self.changes if change.change == "new"]

    @property
    def gone(self) -> list[ReplayChange]:
        """Matched then, would not now."""
        return [change for change in self.changes if change.change == "gone"]


def replay(
    store: Store, matcher: Matcher, since: datetime, *, on_entry: Callable[[], None] | None = None
) -> ReplayReport:
    """Match the entries first seen since `since` with `matcher` and compare with the stored matches."""
    report = ReplayReport(since=since)
    for stored in store.entries_since(since):
        report.entries += 1
        found = {match.rule: match for match in matcher.match(stored.entry)}
        entry = stored.entry
        for rule, match in found.items():
            if rule in stored.matched:
                report.unchanged += 1
                continue
            report.changes.append(
                ReplayChange(
                    change="new",
                    rule=rule,
                    feed=stored.feed_name,
                    title=entry.title,
                    link=entry.link,
                    first_seen=stored.first_seen,
                    alerted=False,
                    severity=match.severity,
                    matched=tuple(match.matched),
                )
            )
        for rule, alerted in stored.matched.items():
            if rule not in found:
                report.changes.append(
                    ReplayChange(
                        change="gone",
                        rule=rule,
                        feed=stored.feed_name,
                        title=entry.title,
                        link=entry.link,
                        first_seen=stored.first_seen,
                        alerted=alerted,
                    )
                )
        if on_entry is not None:
            on_entry()
    return report


BROAD_SHARE = 0.05
"""A rule that would alert on more than this share of stored entries is marked too broad."""
SAMPLES = 3


@dataclass
class RuleHistory:
    """What one rule would have alerted on among stored entries: how many, which share, a few titles."""

    rule: str
    alerts: int = 0
    samples: list[str] = field(default_factory=list)

    def share(self, entries: int) -> float:
        """Share of `entries` the rule would have alerted on (0 when there are none)."""
        return self.alerts / entries if entries else 0.0

    def too_broad(self, entries: int, limit: float = BROAD_SHARE) -> bool:
        """Whether the rule would alert on more than `limit` of the entries (and on more than a handful)."""
        return self.alerts > SAMPLES and self.share(entries) > limit


@dataclass
class HistoryReport:
    """Every rule of a rule set run over the entries first seen since `since`."""

    since: datetime
    entries: int
    rules: list[RuleHistory]


def rule_history(
    store: Store, matcher: Matcher, since: datetime, *, on_entry: Callable[[], None] | None = None
) -> HistoryReport:
    """How many stored entries (first seen since `since`) each rule of `matcher` would alert on. Reads only."""
    found = {rule.name: RuleHistory(rule.name) for rule in matcher.ruleset.rules}
    entries = 0
    for stored in store.entries_since(since):
        entries += 1
        for match in matcher.match(stored.entry):
            history = found[match.rule]
            history.alerts += 1
            if len(history.samples) < SAMPLES:
                history.samples.append(stored.entry.title)
        if on_entry is not None:
            on_entry()
    return HistoryReport(since=since, entries=entries, rules=list(found.values()))
