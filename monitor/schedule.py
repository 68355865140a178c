"""Scheduling policy (pure): when to poll a feed next, and when to retry a failed delivery.

Takes `now`, the feed's interval and its recent history, returns times; the service and the pipeline apply
them. Modelled on Miniflux: the next check is the largest of the interval, the error back-off and the
server's Retry-After.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.model import FeedState

MAX_ERROR_BACKOFF = 6 * 3600.0
"""Longest wait between two polls of a failing feed (unless the feed's own interval is longer)."""

MAX_RETRY_AFTER = 7 * 86400.0
"""Retry-After values above this are treated as this (a server asking for a month is misconfigured)."""


def after_success(now: datetime, interval: float) -> datetime:
    """Next check after a successful poll (200 or 304)."""
    return now + timedelta(seconds=interval)


def error_backoff(interval: float, error_count: int) -> float:
    """Seconds to wait after `error_count` consecutive errors: the interval doubled per error, capped."""
    exponent = min(max(error_count - 1, 0), 20)
    return float(min(interval * 2.0**exponent, max(interval, MAX_ERROR_BACKOFF)))


def after_error(now: datetime, interval: float, error_count: int, retry_after: float | None) -> datetime:
    """Next check after a failed poll: back-off, or the server's Retry-After when that is later."""
    wait = error_backoff(interval, error_count)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + timedelta(seconds=wait)


def is_due(state: FeedState, now: datetime, *, honour_interval: bool = True) -> bool:
    """Whether a feed may be polled now.

    A disabled feed never is. A failing feed waits out its back-off (and any Retry-After). With
    `honour_interval=False` (a one-off `run --once`) a healthy feed is always due.
    """
    if state.disabled:
        return False
    if state.next_check is None or now >= state.next_check:
        return True
    return not honour_interval and state.error_count == 0


def delivery_backoff(attempts: int, first: float, maximum: float, jitter: float) -> float:
    """Seconds before retrying a delivery that failed `attempts` times; `jitter` in [0, 1) spreads retries.

    Exponential from `first`, capped at `maximum`, then scaled into [50%, 100%] of that by `jitter` so that
    many alerts failing together do not retry together.
    """
    exponent = min(max(attempts - 1, 0), 30)
    base = min(first * 2.0**exponent, maximum)
    return base * (0.5 + 0.5 * jitter)
