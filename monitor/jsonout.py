"""The objects the commands print with `--json`: one function per kind of output, built key by key.

Each function names every key it writes and reads the fields it needs one by one, so renaming or adding a field
of an internal dataclass cannot change the public format. docs/json.md documents every key, and
tests/test_docs.py checks that every key these functions produce is documented there.

    run --once --json     feed_outcome ("type": "feed"), console_alert ("alert"), run_summary ("summary")
    status --json         status
    feeds --json          feed_state
    match --json          match_result (with match_detail and hit)
    alerts --json         alert
    alerts dead --json    dead_delivery (its "alert" is `alert`)
    replay --json         replay_change
    rules check --history --json, seed --json     rule_history
    rules test --json     example_result

Pure: data in, dicts of JSON values out. Times are ISO 8601 in UTC; `status` writes them with a "Z", the others
with "+00:00" (as they always have).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor.redact import redact_url

if TYPE_CHECKING:
    from monitor.health import StatusReport
    from monitor.model import Alert, Entry, FeedState, Hit, Match
    from monitor.pipeline import DeliveryReport, PollOutcome
    from monitor.replay import ReplayChange, RuleHistory
    from monitor.rules import ExampleResult
    from monitor.store import DeadDelivery

JSON = dict[str, Any]

POLL_STATUSES = ("ok", "not_modified", "unchanged", "skipped", "disabled", "error")
"""What a poll of one feed can end in (PollOutcome.status); the summary of `run --once` counts each."""

DELIVERY_STATUSES = ("pending", "delivered", "dead")
"""The delivery states `status --json` counts."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _iso_z(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


# -- run --once --json -----------------------------------------------------------------------------------------


def feed_outcome(outcome: PollOutcome) -> JSON:
    """`run --once --json`: what the poll of one feed did ("type": "feed")."""
    return {
        "type": "feed",
        "feed": outcome.feed,
        "url": outcome.url,
        "status": outcome.status,
        "new_entries": outcome.new_entries,
        "alerts": outcome.alerts,
        "error": outcome.error,
        "error_kind": outcome.error_kind,
    }


def console_alert(title: str, text: str) -> JSON:
    """`run --once --json` with no target: one alert as the console target prints it ("type": "alert")."""
    return {"type": "alert", "title": title, "text": text}


def run_summary(outcomes: Sequence[PollOutcome], delivery: DeliveryReport) -> JSON:
    """`run --once --json`: the last line, what the whole run did ("type": "summary")."""
    counts = dict.fromkeys(POLL_STATUSES, 0)
    for outcome in outcomes:
        if outcome.status in counts:
            counts[outcome.status] += 1
    return {
        "type": "summary",
        "feeds": len(outcomes),
        "feeds_ok": counts["ok"],
        "feeds_not_modified": counts["not_modified"],
        "feeds_unchanged": counts["unchanged"],
        "feeds_skipped": counts["skipped"],
        "feeds_disabled": counts["disabled"],
        "feeds_error": counts["error"],
        "new_entries": sum(outcome.new_entries for outcome in outcomes),
        "alerts": sum(outcome.alerts for outcome in outcomes),
        "delivered": delivery.sent,
        "to_retry": delivery.failed,
        "dead": delivery.dead,
        "held": delivery.held,
        "cut_off": delivery.cut_off,
        "sent_by_another_process": delivery.held_elsewhere,
        "failing_targets": list(delivery.failing_targets),
    }


# -- status --json ---------------------------------------------------------------------------------------------


def status(report: StatusReport) -> JSON:
    """`status --json`: the daemon's liveness and heartbeat row, the feeds' health and the outbox."""
    daemon = report.daemon
    deliveries = {name: report.deliveries.get(name, 0) for name in DELIVERY_STATUSES}
    return {
        "alive": report.alive,
        "why": report.why,
        "database": report.database,
        "daemon": None
        if daemon is None
        else {
            "pid": daemon.pid,
            "hostname": daemon.hostname,
            "started_at": _iso_z(daemon.started_at),
            "heartbeat": _iso_z(daemon.heartbeat),
            "stopped_at": _iso_z(daemon.stopped_at),
            "config": daemon.config,
            "feeds": daemon.feeds,
            "rules": daemon.rules,
            "rules_loaded_at": _iso_z(daemon.rules_loaded_at),
            "last_reload_at": _iso_z(daemon.last_reload_at),
            "last_reload_error": daemon.last_reload_error,
            "last_poll_at": _iso_z(daemon.last_poll_at),
            "polls": daemon.polls,
            "health": daemon.health,
        },
        "feeds": {
            "ok": report.feeds_ok,
            "failing": list(report.feeds_failing),
            "disabled": list(report.feeds_disabled),
            "last_poll": _iso_z(report.last_poll),
        },
        "deliveries": deliveries,
        "queue_depth": deliveries["pending"],
        "dead_letters": deliveries["dead"],
        "alerts": report.alerts,
    }


# -- feeds --json ----------------------------------------------------------------------------------------------


def feed_state(state: FeedState) -> JSON:
    """`feeds --json`: one feed's stored state (health, HTTP validators, schedule); URLs with secrets masked."""
    return {
        "feed_id": state.feed_id,
        "config_url": redact_url(state.config_url),
        "url": redact_url(state.url),
        "name": state.name,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "body_hash": state.body_hash,
        "error_count": state.error_count,
        "last_error": state.last_error,
        "last_error_at": _iso(state.last_error_at),
        "last_success": _iso(state.last_success),
        "next_check": _iso(state.next_check),
        "disabled": state.disabled,
        "entries_seen": state.entries_seen,
        "last_polled": _iso(state.last_polled),
        "removed": state.removed,
    }


# -- match --json ----------------------------------------------------------------------------------------------


def match_result(source: str, entry: Entry, matches: Sequence[Match]) -> JSON:
    """`match --json`: one entry of a source and every rule that fired on it, explained."""
    return {
        "source": source,
        "id": entry.entry_id,
        "link": entry.link,
        "title": entry.title,
        "published": _iso(entry.published),
        "matches": [match_detail(match) for match in matches],
    }


def match_detail(match: Match) -> JSON:
    """One rule that fired, in `match --json`'s "matches"."""
    return {
        "rule": match.rule,
        "severity": match.severity,
        "score": round(match.score, 1),
        "matched": list(match.matched),
        "hits": [hit(found) for found in match.hits],
    }


def hit(found: Hit) -> JSON:
    """One term found, in a match's "hits"."""
    return {
        "term": found.term,
        "kind": found.kind,
        "alias": found.alias,
        "field": found.field,
        "start": found.start,
        "end": found.end,
        "text": found.text,
        "score": round(found.score, 1),
    }


# -- alerts --json, alerts dead --json -------------------------------------------------------------------------


def alert(raised: Alert) -> JSON:
    """`alerts --json`: one alert raised (also the "alert" of `alerts dead --json`)."""
    return {
        "id": raised.alert_id,
        "created_at": _iso(raised.created_at),
        "rule": raised.rule,
        "severity": raised.severity,
        "title": raised.title,
        "link": raised.link,
        "feed": raised.feed_name,
        "published": _iso(raised.published),
        "matched": list(raised.matched),
    }


def dead_delivery(delivery: DeadDelivery, target_url: str | None) -> JSON:
    """`alerts dead --json`: one delivery given up; `target_url` is the target's masked URL (None: not configured)."""
    return {
        "delivery_id": delivery.delivery_id,
        "target": delivery.target,
        "target_url": target_url,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "last_attempt_at": _iso(delivery.last_attempt_at),
        "queued_at": _iso(delivery.queued_at),
        "alert": alert(delivery.alert),
    }


# -- replay --json, rules check --history --json, seed --json, rules test --json -------------------------------


def replay_change(change: ReplayChange) -> JSON:
    """`replay --json`: one (entry, rule) pair on which the replayed rules disagree with what was stored."""
    return {
        "change": change.change,
        "rule": change.rule,
        "feed": change.feed,
        "title": change.title,
        "link": change.link,
        "first_seen": _iso(change.first_seen),
        "alerted": change.alerted,
        "severity": change.severity,
        "matched": list(change.matched),
    }


def rule_history(history: RuleHistory, entries: int) -> JSON:
    """`rules check --history --json` and `seed --json`: what one rule would have alerted on among `entries`."""
    return {
        "rule": history.rule,
        "alerts": history.alerts,
        "entries": entries,
        "share": round(history.share(entries), 4),
        "too_broad": history.too_broad(entries),
        "samples": list(history.samples),
    }


def example_result(result: ExampleResult) -> JSON:
    """`rules test --json`: one example of a rule run against it."""
    return {
        "rule": result.rule,
        "text": result.text,
        "should_match": result.should_match,
        "matched": result.matched,
        "location": result.location,
        "ok": result.passed,
    }
