"""Delivery policy (pure): for one target, which due deliveries go out now alone, which now as one digest,
and which wait (digest slots, quiet hours, storm control).

pipeline.deliver_pending asks `plan` once per target and round, with the target's `Policy`, the deliveries
that are due, and (for storm control) the recent history of the target's individual sends; it persists the
holds and sends what the plan says. Nothing here reads the clock or touches the database: `now` comes in.

The rules, in order, for each due delivery:
1. Quiet hours: while they last, every delivery below `break_through` is held until they end, then sent
   as a digest ("quiet").
2. A delivery already held (digest slot, quiet hours, storm) whose time has come goes into this round's
   digest.
3. Severity at or above `break_through` is sent alone at once (subject to storm control).
4. A digest target holds everything else until the first digest slot after the alert was raised.
5. An immediate target sends it alone, unless storm control says otherwise: once `storm_max` alerts of one
   rule were sent alone within `storm_window`, the rest of that window's alerts of that rule are held and
   sent as one digest when the window closes ("storm"), which says so.
All the digest-bound deliveries due in a round become ONE message; an empty digest is never sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from monitor.model import TargetConfig, severity_rank

BATCH_KINDS = ("digest", "quiet", "storm")
"""Why a delivery was held: a digest target's schedule, the target's quiet hours, or storm control."""

DAY = 86400.0

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_EVERY = re.compile(r"^(?:every\s+)?(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")


@dataclass(frozen=True)
class Schedule:
    """When a digest target sends: every `every` seconds from local midnight, or at local `times` each day."""

    every: float = 0.0
    times: tuple[int, ...] = ()  # minutes after local midnight, sorted

    def describe(self) -> str:
        """The schedule as a person would write it: "every 30m", "hourly", "daily 08:00, 18:00"."""
        if self.times:
            return "daily " + ", ".join(clock(minutes) for minutes in self.times)
        if self.every == 3600:
            return "hourly"
        hours, rest = divmod(int(self.every), 3600)
        return "every " + (f"{hours}h" if hours else "") + (f"{rest // 60}m" if rest else "")


@dataclass(frozen=True)
class Policy:
    """A target's delivery settings, ready for `plan` (see TargetConfig and docs/configuration.md)."""

    mode: str = "immediate"  # "immediate" or "digest"
    schedule: Schedule = field(default_factory=Schedule)
    tz: tzinfo = UTC
    quiet: tuple[int, int] | None = None  # (start, end) minutes after local midnight; may wrap midnight
    break_through: str = ""  # severity sent at once in digest mode and quiet hours; "" none
    storm_max: int = 0  # 0: no storm control
    storm_window: float = 3600.0

    @classmethod
    def for_target(cls, target: TargetConfig | None, default_tz: tzinfo = UTC) -> Policy:
        """The policy of a configured target (None: the console, which sends everything at once)."""
        if target is None:
            return cls(tz=default_tz)
        return cls(
            mode=target.mode,
            schedule=Schedule(every=target.digest_every, times=target.digest_times),
            tz=ZoneInfo(target.timezone) if target.timezone else default_tz,
            quiet=target.quiet_hours,
            break_through=target.break_through,
            storm_max=target.storm_max,
            storm_window=target.storm_window,
        )

    def breaks_through(self, severity: str) -> bool:
        """Whether an alert of `severity` skips digests and quiet hours."""
        return bool(self.break_through) and severity_rank(severity) >= severity_rank(self.break_through)


@dataclass(frozen=True)
class Item:
    """A due delivery as the policy sees it."""

    delivery_id: int
    rule: str
    severity: str
    created_at: datetime  # when the alert was raised (queued)
    batch: str | None = None  # set once held: "digest", "quiet" or "storm"
    held_until: datetime | None = None


@dataclass(frozen=True)
class RuleHistory:
    """What storm control needs to know about one rule's recent deliveries to the target."""

    sent_alone: tuple[datetime, ...] = ()  # when alerts of the rule were delivered alone, recent ones
    storm_until: datetime | None = None  # end of the rule's latest storm window (running or past)


@dataclass(frozen=True)
class Hold:
    """Keep a delivery until `until`, for the reason `batch`."""

    delivery_id: int
    batch: str
    until: datetime


@dataclass(frozen=True)
class Digest:
    """The deliveries to send now as one digest message, and why they were collected."""

    delivery_ids: tuple[int, ...]
    kinds: tuple[str, ...]  # distinct batch kinds among them, in BATCH_KINDS order
    storm_rules: tuple[str, ...]  # rules whose storm window this digest closes


@dataclass(frozen=True)
class Plan:
    """What to do with a target's due deliveries this round."""

    alone: tuple[int, ...] = ()  # delivery ids to send one message each, in this order
    digest: Digest | None = None  # None: nothing to send as a digest (never an empty digest)
    holds: tuple[Hold, ...] = ()


def plan(now: datetime, policy: Policy, items: Sequence[Item], history: Mapping[str, RuleHistory]) -> Plan:
    """Decide for every due item (oldest first): alone now, in this round's digest, or held (see module doc)."""
    alone: list[int] = []
    collected: list[Item] = []
    holds: list[Hold] = []
    storms = _StormState(now, policy, history)
    quiet_until = quiet_end(now, policy.quiet, policy.tz) if in_quiet_hours(now, policy.quiet, policy.tz) else None
    for item in sorted(items, key=lambda item: (item.created_at, item.delivery_id)):
        urgent = policy.breaks_through(item.severity)
        if quiet_until is not None and not urgent:
            holds.append(Hold(item.delivery_id, item.batch or "quiet", quiet_until))
        elif item.batch is not None:
            collected.append(item)
        elif policy.mode == "digest" and not urgent:
            slot = next_slot(item.created_at, policy.schedule, policy.tz)
            if slot <= now:
                collected.append(Item(item.delivery_id, item.rule, item.severity, item.created_at, "digest", slot))
            else:
                holds.append(Hold(item.delivery_id, "digest", slot))
        else:
            storm_end = storms.hold_until(item.rule)
            if storm_end is None:
                alone.append(item.delivery_id)
            else:
                holds.append(Hold(item.delivery_id, "storm", storm_end))
    digest = None
    if collected:
        kinds = tuple(kind for kind in BATCH_KINDS if any(item.batch == kind for item in collected))
        storm_rules = tuple(dict.fromkeys(item.rule for item in collected if item.batch == "storm"))
        digest = Digest(tuple(item.delivery_id for item in collected), kinds, storm_rules)
    return Plan(alone=tuple(alone), digest=digest, holds=tuple(holds))


class _StormState:
    """Storm control for one round: individual sends per rule (history plus this round), storm windows."""

    def __init__(self, now: datetime, policy: Policy, history: Mapping[str, RuleHistory]) -> None:
        self.now = now
        self.policy = policy
        self.sent = {rule: list(past.sent_alone) for rule, past in history.items()}
        self.until = {rule: past.storm_until for rule, past in history.items() if past.storm_until}

    def hold_until(self, rule: str) -> datetime | None:
        """None: send this alert of `rule` alone (and count it); else hold it until the storm window ends."""
        if self.policy.storm_max <= 0:
            return None
        storm_until = self.until.get(rule)
        if storm_until is not None and storm_until > self.now:
            return storm_until
        window_start = self.now - timedelta(seconds=self.policy.storm_window)
        # Counting restarts after a storm: its digest closed the window, later alerts start a fresh one.
        recent = [
            moment
            for moment in self.sent.get(rule, [])
            if moment > window_start and (storm_until is None or moment >= storm_until)
        ]
        if len(recent) >= self.policy.storm_max:
            end = min(recent) + timedelta(seconds=self.policy.storm_window)
            self.until[rule] = end
            return end
        self.sent.setdefault(rule, []).append(self.now)
        return None


def storm_notice(rule: str, policy: Policy) -> str:
    """The line a storm digest opens with for `rule`."""
    return (
        f"Storm control: more than {policy.storm_max} alerts of rule {rule} within {duration(policy.storm_window)}; "
        "the rest of that window is collected in this digest."
    )


def notices(digest: Digest, policy: Policy) -> list[str]:
    """Why the digest's alerts were collected, one line per reason, for the top of the message."""
    lines: list[str] = []
    if "digest" in digest.kinds:
        lines.append(f"Digest ({policy.schedule.describe()}, {zone_name(policy.tz)}).")
    if "quiet" in digest.kinds and policy.quiet is not None:
        start, end = policy.quiet
        lines.append(f"Held during quiet hours {clock(start)}-{clock(end)} ({zone_name(policy.tz)}).")
    lines.extend(storm_notice(rule, policy) for rule in digest.storm_rules)
    return lines


# --- time arithmetic (local wall clock of the target's zone) ------------------------------------------


def next_slot(after: datetime, schedule: Schedule, tz: tzinfo) -> datetime:
    """The first digest time strictly after `after` (in UTC), on the local wall clock of `tz`."""
    local = after.astimezone(tz)
    elapsed = (local.replace(tzinfo=None) - datetime.combine(local.date(), time(0))).total_seconds()
    for day in range(3):
        midnight = datetime.combine(local.date() + timedelta(days=day), time(0), tzinfo=tz)
        for offset in _offsets(schedule, elapsed if day == 0 else 0.0):
            slot = (midnight + timedelta(seconds=offset)).astimezone(UTC)  # wall-clock addition, then UTC
            if slot > after:
                return slot
    raise ValueError(f"no digest time in {schedule!r}")  # unreachable for a valid schedule


def _offsets(schedule: Schedule, elapsed: float) -> list[float]:
    """Seconds after local midnight of the day's digest times, starting near `elapsed`."""
    if schedule.times:
        return [minutes * 60.0 for minutes in schedule.times]
    first = max(0, math.floor(elapsed / schedule.every) - 1)
    return [k * schedule.every for k in range(first, math.ceil(DAY / schedule.every))]


def in_quiet_hours(moment: datetime, quiet: tuple[int, int] | None, tz: tzinfo) -> bool:
    """Whether `moment` falls in the quiet hours (start inclusive, end exclusive, local time of `tz`)."""
    if quiet is None:
        return False
    local = moment.astimezone(tz)
    minute = local.hour * 60 + local.minute
    start, end = quiet
    return start <= minute < end if start < end else minute >= start or minute < end


def quiet_end(moment: datetime, quiet: tuple[int, int] | None, tz: tzinfo) -> datetime:
    """When the quiet hours around `moment` end (in UTC): the next local `end` time after `moment`."""
    assert quiet is not None
    return next_slot(moment, Schedule(times=(quiet[1],)), tz)


# --- parsing (config.py validates with these) -----------------------------------------------------------


def parse_schedule(text: str) -> Schedule:
    """ "30m", "every 2h", "hourly", "daily 08:00", "daily 08:00,18:00" -> Schedule; ValueError otherwise."""
    value = " ".join(text.strip().lower().split())
    if value == "hourly":
        return Schedule(every=3600.0)
    if value.startswith("daily"):
        times = [part.strip() for part in value[len("daily") :].split(",")]
        if not times or not all(times):
            raise ValueError('write "daily 08:00" (several times separated by commas)')
        return Schedule(times=tuple(sorted({parse_clock(part) for part in times})))
    found = _EVERY.match(value)
    if not value or not found or not (found.group(1) or found.group(2)):
        raise ValueError('write "30m", "2h", "hourly" or "daily 08:00"')
    seconds = int(found.group(1) or 0) * 3600 + int(found.group(2) or 0) * 60
    if not 60 <= seconds <= DAY:
        raise ValueError("a digest period is between 1 minute and 24 hours (use daily HH:MM for a time of day)")
    return Schedule(every=float(seconds))


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """ "22:00-07:00" -> (1320, 420) minutes after local midnight; ValueError otherwise."""
    parts = text.replace("–", "-").split("-")
    if len(parts) != 2:
        raise ValueError('write "22:00-07:00" (start-end, local time)')
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start == end:
        raise ValueError("quiet hours start and end at the same time")
    return start, end


def parse_clock(text: str) -> int:
    """ "08:00" -> 480 minutes after midnight; ValueError otherwise."""
    found = _CLOCK.match(text.strip())
    if not found:
        raise ValueError(f"{text.strip()!r} is not a time of day such as 08:00")
    return int(found.group(1)) * 60 + int(found.group(2))


def clock(minutes: int) -> str:
    """480 -> "08:00"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def duration(seconds: float) -> str:
    """3600 -> "1h", 5400 -> "1h30m", 90 -> "90s"."""
    if seconds % 60:
        return f"{seconds:g}s"
    hours, minutes = divmod(int(seconds) // 60, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") or "0s"


def zone_name(tz: tzinfo) -> str:
    """The IANA name of a zone when it has one ("Europe/London"), else its abbreviation."""
    return str(getattr(tz, "key", None) or tz.tzname(None) or "UTC")
