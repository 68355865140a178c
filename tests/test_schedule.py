"""schedule.py: next checks after success and errors, Retry-After, delivery back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor import schedule
from monitor.model import FeedState

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_success_waits_the_interval() -> None:
    """After a successful poll the next check is one interval later."""
    assert schedule.after_success(NOW, 600) == NOW + timedelta(seconds=600)


def test_error_backoff_doubles_and_is_capped() -> None:
    """Each consecutive error doubles the wait, up to six hours (or the interval if longer)."""
    assert [schedule.error_backoff(600, n) for n in (1, 2, 3)] == [600, 1200, 2400]
    assert schedule.error_backoff(600, 30) == schedule.MAX_ERROR_BACKOFF
    assert schedule.error_backoff(86400, 5) == 86400


def test_retry_after_wins_when_later_and_is_capped() -> None:
    """A server's Retry-After delays the next check when longer than the back-off, capped at a week."""
    assert schedule.after_error(NOW, 60, 1, 3600) == NOW + timedelta(seconds=3600)
    assert schedule.after_error(NOW, 60, 1, 5) == NOW + timedelta(seconds=60)
    assert schedule.after_error(NOW, 60, 1, 10**9) == NOW + timedelta(seconds=schedule.MAX_RETRY_AFTER)


def test_is_due_respects_disable_backoff_and_once_mode() -> None:
    """Disabled feeds never poll; failing feeds wait; healthy feeds poll in once mode regardless of interval."""
    healthy = FeedState(feed_id=1, config_url="u", url="u", name="n", next_check=NOW + timedelta(minutes=5))
    failing = FeedState(
        feed_id=1, config_url="u", url="u", name="n", error_count=2, next_check=NOW + timedelta(minutes=5)
    )
    assert not schedule.is_due(healthy, NOW)
    assert schedule.is_due(healthy, NOW, honour_interval=False)
    assert not schedule.is_due(failing, NOW, honour_interval=False)
    assert schedule.is_due(failing, NOW + timedelta(minutes=6))
    assert not schedule.is_due(FeedState(feed_id=1, config_url="u", url="u", name="n", disabled=True), NOW)


def test_delivery_backoff_grows_with_jitter_bounds() -> None:
    """Delivery retries back off exponentially, capped, and jitter keeps them within [50%, 100%]."""
    assert schedule.delivery_backoff(1, 60, 3600, 0.0) == 30
    assert schedule.delivery_backoff(1, 60, 3600, 0.999) < 60
    assert schedule.delivery_backoff(3, 60, 3600, 0.0) == 120
    assert schedule.delivery_backoff(50, 60, 3600, 0.0) == 1800
