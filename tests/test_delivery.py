"""Delivery guarantees against real servers: aiosmtpd, a local HTTP webhook (json://), SQLite in tmp_path.

Delivery rounds run `pipeline.deliver_pending` with an injected clock, so digest slots, quiet hours, retry
back-off and storm windows are checked at exact times without waiting. Alerts are queued through
`Store.record_entries` exactly as a poll queues them (routing and story grouping included); the end-to-end
tests with feeds are at the bottom. The SIGKILL-at-any-moment test lives with the robustness tests (issue 6).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import log
from monitor.cli import cli
from monitor.config import Settings, load_settings
from monitor.model import Entry, Hit, Match
from monitor.notify import Notifier
from monitor.pipeline import DeliveryReport, Runtime, build_runtime, deliver_pending
from monitor.store import NewEntry, Store
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.hookserver import HookServer
from tests.smtpserver import SMTPServer
from tests.test_cli import monitor
from tests.test_end_to_end import RELEVANT, RULES, make_config

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SECRET = "Pa55wordNeverShown"
TOKEN = "t0kenNeverShown77"


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on (a dead SMTP server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> Clock:
        self.now = moment
        return self


class Desk:
    """A monitor configured with `targets`: a real store, runtime and notifier, alerts queued by hand."""

    def __init__(self, tmp_path: Path, targets: str, extra: str = "") -> None:
        rules = tmp_path / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "militias.toml").write_text(RULES, encoding="utf-8")
        self.config = tmp_path / "monitor.toml"
        self.config.write_text(
            f'database = "monitor.db"\nrules = "rules"\n{extra}\n'
            '[[feeds]]\nname = "Wire 1"\nurl = "https://wire1.example/rss"\n'
            '[[feeds]]\nname = "Wire 2"\nurl = "https://wire2.example/rss"\n' + targets,
            encoding="utf-8",
        )
        self.settings: Settings = load_settings(self.config, env={})
        self.clock = Clock(T0)
        self.store = Store.open(self.settings.database)
        self.feeds = [state.feed_id for state in self.store.sync_feeds(self.settings.feeds, T0)]
        self.runtime: Runtime = build_runtime(self.settings, T0)
        self.notifier = Notifier(self.settings.targets, timeout=5.0)
        self.count = 0

    def alert(self, title: str, *, rule: str = "kh", severity: str = "medium", feed: int = 0, link: str = "") -> int:
        """Queue one alert at the clock's time, routed like a poll would; return the alerts created."""
        self.count += 1
        entry = Entry(entry_id=f"urn:{self.count}", title=title, link=link or f"https://news.example/{self.count}")
        match = Match(rule, severity, 100.0, (Hit("kh", "actor", "KH", "title", 0, 0, "KH", 100.0),))
        result = self.store.record_entries(
            self.feeds[feed],
            [NewEntry(entry, (match,), alert=True)],
            now=self.clock(),
            route=self.runtime.route,
            stories=self.runtime.stories,
        )
        return result.alerts

    def deliver(self, at: datetime | None = None, *, ignore_backoff: bool = False) -> DeliveryReport:
        """One delivery round at `at` (default: the clock's time)."""
        if at is not None:
            self.clock.at(at)
        return asyncio.run(
            deliver_pending(
                store=self.store,
                notifier=self.notifier,
                runtime=self.runtime,
                clock=self.clock,
                ignore_backoff=ignore_backoff,
            )
        )

    def statuses(self) -> dict[str, list[tuple[str, int]]]:
        """Per target, (status, attempts) of each delivery in id order."""
        found: dict[str, list[tuple[str, int]]] = {}
        for target, status, attempts in self.store.db.execute(
            "SELECT target, status, attempts FROM deliveries ORDER BY id"
        ):
            found.setdefault(target, []).append((status, attempts))
        return found

    def restart(self) -> None:
        """Close and reopen everything, as a restarted daemon would."""
        self.store.close()
        self.store = Store.open(self.settings.database)
        self.runtime = build_runtime(self.settings, self.clock())
        self.notifier = Notifier(self.settings.targets, timeout=5.0)

    def close(self) -> None:
        self.store.close()


def target(name: str, url: str, **keys: str) -> str:
    """A [[targets]] table; `keys` values are TOML literals."""
    lines = ["[[targets]]", f'name = "{name}"', f'url = "{url}"', *(f"{key} = {value}" for key, value in keys.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture
def desks() -> Iterator[list[Desk]]:
    """Closes the desks a test opened."""
    opened: list[Desk] = []
    yield opened
    for desk in opened:
        desk.close()


def open_desk(desks: list[Desk], tmp_path: Path, targets: str, extra: str = "") -> Desk:
    desk = Desk(tmp_path, targets, extra)
    desks.append(desk)
    return desk


# --- exactly once ---------------------------------------------------------------------------------------------


def test_each_alert_reaches_each_target_once(
    tmp_path: Path, desks: list[Desk], smtp_server: SMTPServer, hook: HookServer
) -> None:
    """Two alerts reach the SMTP server and the webhook once each; later rounds and a restart send nothing."""
    desk = open_desk(
        desks,
        tmp_path,
        target("mail", smtp_server.url(), timezone='"Asia/Baghdad"') + target("hook", hook.url()),
    )
    desk.alert("Kataib Hezbollah statement on weapons")
    desk.alert("PMF law vote delayed", rule="pmf")
    report = desk.deliver()
    assert (report.sent, report.failed, report.digests) == (4, 0, 0)
    mails = smtp_server.wait_for(2)
    assert sorted(str(mail.message["Subject"]) for mail in mails) == [
        "[medium] kh: Kataib Hezbollah statement on weapons",
        "[medium] pmf: PMF law vote delayed",
    ]
    assert "Published: time unknown" in (mails[0].part("text/plain") or "")
    assert len(hook.titles) == 2
    assert desk.deliver(T0 + timedelta(hours=1)).sent == 0
    desk.restart()
    assert desk.deliver(T0 + timedelta(hours=2), ignore_backoff=True).sent == 0
    assert len(smtp_server.messages) == 2
    assert len(hook.titles) == 2
    assert desk.store.delivery_counts() == {"pending": 0, "delivered": 4, "dead": 0}


def test_routing_by_rule_and_minimum_severity(tmp_path: Path, desks: list[Desk], hook: HookServer) -> None:
    """A target takes only its rules, another only high alerts and above."""
    desk = open_desk(
        desks,
        tmp_path,
        target("pmf-desk", hook.url("/pmf"), rules='["pmf"]')
        + target("urgent", hook.url("/urgent"), min_severity='"high"'),
    )
    desk.alert("PMF law vote delayed", rule="pmf", severity="medium")
    desk.alert("Kataib Hezbollah attack", rule="kh", severity="critical")
    desk.alert("Kataib Hezbollah statement", rule="kh", severity="low")
    desk.deliver()
    assert sorted(hook.titles) == ["[critical] kh: Kataib Hezbollah attack", "[medium] pmf: PMF law vote delayed"]
    assert desk.statuses() == {"pmf-desk": [("delivered", 1)], "urgent": [("delivered", 1)]}


def test_smtp_down_then_up_delivers_exactly_once_after_backoff(
    tmp_path: Path, desks: list[Desk], smtp_server: SMTPServer
) -> None:
    """A failed send waits out its back-off (with jitter), then the alert is mailed once and only once."""
    desk = open_desk(desks, tmp_path, target("mail", smtp_server.url()), extra='[retry]\nfirst = "1m"\nmax = "10m"')
    desk.alert("Kataib Hezbollah statement")
    smtp_server.stop()
    report = desk.deliver()
    assert (report.sent, report.failed) == (0, 1)
    [(_, next_attempt)] = desk.store.db.execute("SELECT status, next_attempt FROM deliveries").fetchall()
    assert T0 + timedelta(seconds=30) <= datetime.fromisoformat(next_attempt) <= T0 + timedelta(seconds=60)
    smtp_server.start()
    assert desk.deliver(T0 + timedelta(seconds=20)).sent == 0  # still backing off
    assert desk.deliver(T0 + timedelta(minutes=2)).sent == 1
    assert desk.deliver(T0 + timedelta(minutes=30)).sent == 0
    assert len(smtp_server.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1
    assert desk.statuses() == {"mail": [("delivered", 2)]}


def test_a_dead_target_does_not_delay_another_and_ends_dead_then_retried(
    tmp_path: Path, desks: list[Desk], hook: HookServer
) -> None:
    """A refused SMTP target never delays the webhook; it ends dead, is listed, re-queued and delivered once."""
    port = free_port()
    mail_url = f"mailto://127.0.0.1:{port}?from=m@example.com&to=desk@example.com"
    desk = open_desk(
        desks,
        tmp_path,
        target("mail", mail_url) + target("hook", hook.url()),
        extra='[retry]\nfirst = "1m"\nmax_attempts = 3',
    )
    for n in range(3):
        desk.alert(f"Kataib Hezbollah statement {n}")
    started = time.monotonic()
    report = desk.deliver()
    elapsed = time.monotonic() - started
    assert len(hook.titles) == 3  # the webhook got everything in the same round
    assert elapsed < 3.0
    assert (report.sent, report.failed, report.failing_targets) == (3, 1, ["mail"])
    for minutes in (10, 60):  # back-off passed each time: attempts 2 and 3
        desk.deliver(T0 + timedelta(minutes=minutes))
    # One attempt per failing target and round: the oldest alert is dead, the others not tried yet.
    assert desk.statuses()["mail"] == [("dead", 3), ("pending", 0), ("pending", 0)]
    for hours in range(2, 14, 2):
        desk.deliver(T0 + timedelta(hours=hours))
    assert desk.statuses()["mail"] == [("dead", 3)] * 3
    assert len(hook.titles) == 3

    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", str(desk.config), "alerts", "dead", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [row["target"] for row in rows] == ["mail"] * 3
    assert all("Connection" in row["last_error"] for row in rows)
    table = runner.invoke(cli, ["--config", str(desk.config), "alerts", "dead"])
    assert "mail <mailto://127.0.0.1" in table.output

    with SMTPServer(port=port) as revived:
        retried = runner.invoke(cli, ["--config", str(desk.config), "alerts", "retry", "--all-dead"])
        assert retried.output.startswith("re-queued 3 deliveries")
        requeued_at = datetime.now(UTC)  # the command stamps the wall clock: re-queued deliveries are due now
        assert desk.deliver(requeued_at + timedelta(seconds=1)).sent == 3
        assert len(revived.wait_for(3)) == 3
        assert desk.deliver(requeued_at + timedelta(hours=1)).sent == 0
    assert desk.statuses()["mail"] == [("delivered", 1)] * 3


def test_alerts_retry_refuses_delivered_ids_and_needs_an_argument(
    tmp_path: Path, desks: list[Desk], hook: HookServer
) -> None:
    """Re-queueing a delivered or unknown id changes nothing and exits 1; no argument is a usage error."""
    desk = open_desk(desks, tmp_path, target("hook", hook.url()))
    desk.alert("Kataib Hezbollah statement")
    desk.deliver()
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(desk.config), "alerts", "retry", "1", "99"])
    assert result.exit_code == 1
    assert "re-queued 0 deliveries" in result.output
    assert runner.invoke(cli, ["--config", str(desk.config), "alerts", "retry"]).exit_code == 2
    assert desk.statuses() == {"hook": [("delivered", 1)]}


# --- digests, quiet hours, storms -----------------------------------------------------------------------------


def test_digest_target_sends_one_digest_per_slot_and_no_empty_digest(
    tmp_path: Path, desks: list[Desk], smtp_server: SMTPServer, hook: HookServer
) -> None:
    """Hourly digests: alerts raised at 10:05 and 10:20 arrive together once, just after 11:00; nothing else."""
    desk = open_desk(
        desks,
        tmp_path,
        target("mail", smtp_server.url(), digest='"hourly"')
        + target("hook", hook.url(), mode='"digest"', digest='"30m"'),
    )
    desk.clock.at(T0 + timedelta(minutes=5))
    desk.alert("Kataib Hezbollah agrees to hand over heavy weapons")
    desk.clock.at(T0 + timedelta(minutes=20))
    desk.alert("PMF law vote delayed again & again <b>now</b>", rule="pmf")
    assert desk.deliver(T0 + timedelta(minutes=29)).held == 4
    assert hook.titles == []
    hooked = desk.deliver(T0 + timedelta(minutes=30, seconds=5))
    assert (hooked.sent, hooked.digests) == (2, 1)
    assert hook.titles == ["[medium] digest: 2 alerts for kh, pmf"]
    assert desk.deliver(T0 + timedelta(minutes=59)).sent == 0
    assert smtp_server.messages == []
    mailed = desk.deliver(T0 + timedelta(hours=1, seconds=30))
    assert (mailed.sent, mailed.digests) == (2, 1)
    [mail] = smtp_server.wait_for(1)
    html = mail.part("text/html") or ""
    ET.fromstring(f"<root>{html}</root>")
    assert "Kataib Hezbollah agrees to hand over heavy weapons" in html
    assert "PMF law vote delayed again &amp; again now" in html
    assert "Digest (hourly, UTC)." in html
    for hour in (2, 3):  # later slots with nothing new: no empty digest
        assert desk.deliver(T0 + timedelta(hours=hour, seconds=30)).sent == 0
    assert len(smtp_server.messages) == 1
    assert len(hook.titles) == 1


def test_run_once_keeps_digests_for_their_slot(tmp_path: Path, desks: list[Desk], hook: HookServer) -> None:
    """`run --once` retries failed deliveries at once but never sends a held digest early."""
    desk = open_desk(desks, tmp_path, target("hook", hook.url(), digest='"daily 08:00"'))
    desk.alert("Kataib Hezbollah statement")
    assert desk.deliver(ignore_backoff=True).held == 1
    assert desk.deliver(T0 + timedelta(hours=12), ignore_backoff=True).sent == 0
    assert desk.deliver(T0 + timedelta(hours=22, seconds=1), ignore_backoff=True).sent == 1
    assert hook.titles == ["[medium] digest: 1 alert for kh"]


def test_quiet_hours_hold_alerts_until_morning_while_high_breaks_through(
    tmp_path: Path, desks: list[Desk], hook: HookServer
) -> None:
    """Quiet hours 22:00-07:00 Baghdad time: a medium alert waits for 07:00 (04:00 UTC), a high one goes at once."""
    desk = open_desk(
        desks,
        tmp_path,
        target("hook", hook.url(), quiet_hours='"22:00-07:00"', break_through='"high"', timezone='"Asia/Baghdad"'),
    )
    night = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 23:00 in Baghdad
    desk.clock.at(night)
    desk.alert("PMF law vote delayed", rule="pmf", severity="medium")
    desk.alert("Kataib Hezbollah attack on base", severity="high")
    report = desk.deliver()
    assert (report.sent, report.held) == (1, 1)
    assert hook.titles == ["[high] kh: Kataib Hezbollah attack on base"]
    assert desk.deliver(datetime(2026, 11, 25, 3, 59, tzinfo=UTC)).sent == 0
    morning = desk.deliver(datetime(2026, 11, 25, 4, 0, 30, tzinfo=UTC))
    assert (morning.sent, morning.digests) == (1, 1)
    assert hook.titles[1] == "[medium] digest: 1 alert for pmf"
    assert "Held during quiet hours 22:00-07:00 (Asia/Baghdad)." in hook.messages[1]
    assert "2026-11-24 23:00 +03" in hook.messages[1]  # the alert's time in the target's zone


def test_storm_control_turns_the_rest_of_the_window_into_one_digest(
    tmp_path: Path, desks: list[Desk], hook: HookServer
) -> None:
    """Storm max 3/h: 3 alerts go alone, the rest of the hour is one digest saying so, then alerts go alone again."""
    desk = open_desk(desks, tmp_path, target("hook", hook.url(), storm='{ max = 3, window = "1h" }'))
    for n in range(5):
        desk.alert(f"Kataib Hezbollah claim number {n}")
    desk.alert("PMF law vote delayed", rule="pmf")
    report = desk.deliver()
    assert (report.sent, report.held) == (4, 2)
    desk.clock.at(T0 + timedelta(minutes=20))
    desk.alert("Kataib Hezbollah claim number 5")
    assert desk.deliver().held == 1
    assert len(hook.titles) == 4
    closing = desk.deliver(T0 + timedelta(hours=1, seconds=10))
    assert (closing.sent, closing.digests) == (3, 1)
    assert hook.titles[-1] == "[medium] digest: 3 alerts for kh"
    assert "Storm control: more than 3 alerts of rule kh within 1h" in hook.messages[-1]
    desk.clock.at(T0 + timedelta(hours=1, minutes=5))
    desk.alert("Kataib Hezbollah claim number 6")
    assert desk.deliver().sent == 1
    assert hook.titles[-1] == "[medium] kh: Kataib Hezbollah claim number 6"
    assert len(hook.titles) == 6


def test_a_failed_digest_is_retried_whole_and_sent_once(tmp_path: Path, desks: list[Desk], hook: HookServer) -> None:
    """A digest the endpoint refuses (HTTP 500) keeps all its alerts pending together; the retry sends it once."""
    desk = open_desk(desks, tmp_path, target("hook", hook.url(), digest='"30m"'), extra='[retry]\nfirst = "1m"')
    desk.alert("Kataib Hezbollah statement one")
    desk.alert("Kataib Hezbollah statement two about something else entirely")
    hook.status = 500
    failed = desk.deliver(T0 + timedelta(minutes=30, seconds=1))
    assert (failed.sent, failed.failed) == (0, 2)
    hook.status = 200
    assert desk.deliver(T0 + timedelta(minutes=40)).sent == 2
    assert desk.deliver(T0 + timedelta(hours=2)).sent == 0
    assert [title for title in hook.titles if "digest" in title] == ["[medium] digest: 2 alerts for kh"] * 2
    assert desk.statuses() == {"hook": [("delivered", 2), ("delivered", 2)]}


# --- stories and secrets, end to end --------------------------------------------------------------------------


def test_one_story_from_two_feeds_is_mailed_once_with_also_reported_by(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """Two real feeds carry one wire story: one email naming the second outlet; a later copy adds no email."""
    from monitor.fetch import Fetcher
    from monitor.pipeline import poll_feed
    from tests.test_end_to_end import make_config

    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    feed_server.set_feed(
        "/a.xml", rss([item("Kataib Hezbollah agrees to hand over heavy weapons", guid="a", published=clock())])
    )
    feed_server.set_feed(
        "/b.xml",
        rss(
            [
                item(
                    "Iraq's Kataib Hezbollah agrees to hand over its heavy weapons - Reuters",
                    guid="b",
                    link="https://wire-b.example/kh-weapons",
                    published=clock(),
                )
            ]
        ),
    )
    config = make_config(tmp_path, [feed_server.url("/a.xml"), feed_server.url("/b.xml")], [smtp_server.url()])
    settings = load_settings(config, env={})
    runtime = build_runtime(settings, clock())

    async def poll_both_then_deliver() -> tuple[list[int], DeliveryReport]:
        fetcher = Fetcher(settings.fetch)
        try:
            alerts = [
                (await poll_feed(feed, store=store, fetcher=fetcher, runtime=runtime, clock=clock)).alerts
                for feed in settings.feeds
            ]
        finally:
            await fetcher.aclose()
        report = await deliver_pending(store=store, notifier=Notifier(settings.targets), runtime=runtime, clock=clock)
        return alerts, report

    with Store.open(settings.database) as store:
        store.sync_feeds(settings.feeds, clock())
        alerts, report = asyncio.run(poll_both_then_deliver())
        assert (alerts, report.sent) == ([1, 0], 1)
        [mail] = smtp_server.wait_for(1)
        assert "Also reported by: Wire 2" in (mail.part("text/plain") or "")
        html = mail.part("text/html") or ""
        assert 'Also reported by: <a href="https://wire-b.example/kh-weapons">Wire 2</a>' in html
        clock.at(clock() + timedelta(hours=1))
        feed_server.set_feed(
            "/a.xml",
            rss(
                [item("Kataib Hezbollah agrees to hand over heavy weapons, officials say", guid="c", published=clock())]
            ),
        )
        alerts, report = asyncio.run(poll_both_then_deliver())
        assert (alerts, report.sent) == ([0, 0], 0)
        stored = store.db.execute("SELECT count(*), count(DISTINCT story_id) FROM entries").fetchone()
        assert tuple(stored) == (3, 1)
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1


def test_secrets_never_reach_logs_errors_or_output(
    tmp_path: Path, desks: list[Desk], hook: HookServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Passwords and tokens in target URLs appear in no log line, stored error, or command output."""
    stream = io.StringIO()
    logger = logging.getLogger(log.LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    log.setup(logging.DEBUG, stream=stream)
    try:
        hook.status = 500
        desk = open_desk(
            desks,
            tmp_path,
            target("mail", f"mailto://user:{SECRET}@127.0.0.1:{free_port()}?from=a@example.com&to=b@example.com")
            + target("hook", hook.url(f"/hooks/{TOKEN}") + f"?+Authorization=Bearer%20{TOKEN}"),
            extra="[retry]\nmax_attempts = 1",
        )
        desk.alert("Kataib Hezbollah statement")
        report = desk.deliver()
        assert report.dead == 2
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved  # type: ignore[assignment]
    runner = CliRunner()
    outputs = [
        runner.invoke(cli, ["--config", str(desk.config), *args]).output
        for args in (["alerts", "dead"], ["alerts", "dead", "--json"], ["alerts"], ["alerts", "--json"])
    ]
    stored = " ".join(str(row) for row in desk.store.db.execute("SELECT * FROM deliveries"))
    captured = capsys.readouterr()
    everything = "\n".join([stream.getvalue(), stored, captured.out, captured.err, *outputs])
    assert "event=alert_dead" in stream.getvalue()
    assert "500" in stored
    for secret in (SECRET, TOKEN):
        assert secret not in everything


def test_run_once_json_is_json_lines_only_with_alerts_printed_as_objects(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`run --once --json` with no target: stdout is only JSON lines (feed, alert and summary objects)."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="j1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [])
    done = monitor("--config", str(config), "run", "--once", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [record["type"] for record in records] == ["alert", "feed", "summary"]
    assert RELEVANT in records[0]["title"]
    assert records[2]["alerts"] == 1
    assert records[2]["delivered"] == 1


def test_a_failed_delivery_is_retried_when_the_log_says(tmp_path: Path, feed_server: FeedServer) -> None:
    """The daemon retries a failed delivery at the logged `retry_in`, not at its next 30 s delivery round, and
    the target's other alerts wait for that retry instead of hammering it."""
    with HookServer() as hook:
        hook.status = 500
        feed_server.set_feed("/wire.xml", rss([item(f"{RELEVANT} [{n}]", guid=f"r{n}") for n in range(3)]))
        extra = '[retry]\nfirst = "3s"\nmax = "3s"\n[daemon]\nwatch = "0s"'
        config = make_config(tmp_path, [feed_server.url("/wire.xml")], [hook.url()], extra=extra)
        log_path = tmp_path / "daemon.log"
        with log_path.open("w") as log_file:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(config), "run"],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
            try:
                deadline = time.monotonic() + 20
                while "event=alert_failed" not in log_path.read_text() and time.monotonic() < deadline:
                    time.sleep(0.05)
                failed_at = time.monotonic()
                hook.status = 200
                while not hook.posts[1:] and time.monotonic() < deadline + 20:
                    time.sleep(0.05)
                retried_after = time.monotonic() - failed_at
                while len(hook.posts) < 4 and time.monotonic() < deadline + 25:
                    time.sleep(0.05)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=30)
        text = log_path.read_text()
    found = re.search(r"event=alert_failed .*retry_in=(\d+)s", text)
    assert found, text
    logged = int(found.group(1))
    assert len(hook.posts) == 4, text  # one failure, then the three alerts
    assert text.count("event=alert_failed") == 1, text
    assert abs(retried_after - logged) < 2.0, (retried_after, logged)
