"""The daemon as systemd runs it: sd_notify, watchdog, live reload (SIGHUP and file edits), graceful stop, health.

Real processes with a fake $NOTIFY_SOCKET (a unix datagram socket in tmp_path), a real feed server and SMTP
server on 127.0.0.1, SQLite in tmp_path; the in-process tests run `Daemon.run()` in `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import log, service, watch
from monitor.config import load_settings
from monitor.errors import ConfigError, StoreError
from monitor.service import Daemon, watchdog_period
from monitor.store import Store
from tests.feedgen import item, rss
from tests.feedserver import FeedServer, Reply, silent_server
from tests.smtpserver import SMTPServer
from tests.test_end_to_end import RELEVANT, make_config

REPO = Path(__file__).resolve().parent.parent
BROKEN_RULE = '[rules.broken]\nseverity = "urgent"\nany = ["nobody"]\n'
BADR_RULE = """
[actors.badr]
name = "Badr Organization"
aliases = ["Badr Organisation", "Badr Brigades"]

[rules.badr]
description = "The Badr Organization"
severity = "medium"
any = ["badr"]
"""
BADR_HEADLINE = "Badr Organization commander meets the prime minister"


class NotifySocket:
    """A fake systemd notify socket: a unix datagram socket that collects every message sent to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self.messages.append(data.decode())
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 10.0) -> list[str]:
        """Wait until `predicate(messages)` holds; fail the test with what arrived otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"notify socket: condition not met in {timeout}s; got {self.messages}")
                self._changed.wait(left)
            return list(self.messages)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self._sock.close()


class StreamLines:
    """Collects the lines of a child's pipe in a thread, so a test can wait for a log event."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: io.TextIOBase) -> None:
        with stream:
            for line in stream:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.05)
        pytest.fail(f"no line with {text!r} in {timeout}s; got {self.lines}")

    def text(self) -> str:
        self._thread.join(timeout=5)
        return "\n".join(self.lines)


def start_daemon(config: Path, **env: str) -> subprocess.Popen[str]:
    """`python -m monitor --config CONFIG run` as a child process, with extra environment variables."""
    environment = {key: value for key, value in os.environ.items() if key not in ("NOTIFY_SOCKET", "MONITOR_CONFIG")}
    environment.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        cwd=config.parent,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def monitor_json(config: Path, *args: str) -> tuple[int, dict[str, object]]:
    """Run a `monitor ... --json` command in a child process and parse its one JSON object."""
    environment = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args, "--json"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM, timeout: float = 15.0) -> float:
    """Send `signum` and wait for the exit; return how long the process took to exit."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the daemon did not exit within {timeout}s of signal {signum}")
    return time.monotonic() - started


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """monitor's log lines of an in-process daemon, captured in a StringIO."""
    stream = io.StringIO()
    log.setup(logging.INFO, stream=stream)
    yield stream
    root = logging.getLogger(log.LOGGER_NAME)
    root.handlers[:] = []
    root.setLevel(logging.NOTSET)
    root.propagate = True


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` on the event loop until it holds (fails the test after `timeout`)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


async def http_get(address: str, path: str, method: str = "GET") -> tuple[int, str]:
    """A minimal HTTP/1.1 request to the health endpoint: (status code, body)."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body


DAEMON_OPTIONS = '[daemon]\nwatch = "0s"\nheartbeat = "1s"\nstop_timeout = "5s"\n'


@pytest.mark.slow
def test_daemon_notifies_systemd_keeps_rules_on_broken_reload_and_stops_cleanly(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """READY, WATCHDOG pings at half WATCHDOG_USEC, a broken rule on SIGHUP kept out and reported, exit 0 on TERM."""
    feed_server.set_feed("/wire.xml", rss([item("Football: the cup final", guid="1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [], extra=DAEMON_OPTIONS)
    notify = NotifySocket(tmp_path / "notify.sock")
    process = start_daemon(config, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="1000000")
    stderr = StreamLines(process.stderr)  # type: ignore[arg-type]
    try:
        notify.wait_for(lambda messages: any(m.startswith("READY=1") for m in messages), timeout=20)
        ready_at = time.monotonic()
        notify.wait_for(lambda messages: messages.count("WATCHDOG=1") >= 3, timeout=5)
        assert time.monotonic() - ready_at < 2.5  # pings every 0.5 s, not every 1 s
        ready = next(m for m in notify.messages if m.startswith("READY=1"))
        assert "STATUS=watching 1 feeds" in ready

        (tmp_path / "rules" / "broken.toml").write_text(BROKEN_RULE)
        process.send_signal(signal.SIGHUP)
        messages = notify.wait_for(lambda messages: any("RELOAD FAILED" in m for m in messages))
        assert "RELOADING=1" in messages
        failed = next(m for m in messages if "RELOAD FAILED" in m)
        assert "READY=1" in failed
        assert "broken.toml" in failed
        assert "with 1 rules" in failed  # the rules loaded at start still run
        assert "event=reload_failed" in stderr.wait_for("event=reload_failed")

        code, status = monitor_json(config, "status")
        assert code == 0
        assert status["alive"] is True
        daemon = status["daemon"]
        assert isinstance(daemon, dict)
        assert daemon["rules"] == 1
        assert "broken.toml" in str(daemon["last_reload_error"])
        assert daemon["pid"] == process.pid
        assert process.poll() is None
    finally:
        took = stop(process)
        notify.close()
    assert process.returncode == 0
    assert took < 5
    assert "STOPPING=1" in notify.messages
    log_text = stderr.text()
    assert "event=stopped" in log_text
    assert "Traceback" not in log_text


def test_rule_file_edit_takes_effect_while_running(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer, log_lines: io.StringIO
) -> None:
    """A rule file added while the daemon runs is loaded within a second: a new entry matching only it is mailed."""
    feed_server.set_feed("/one.xml", rss([item(RELEVANT, guid="1")]))
    feed_server.set_feed("/two.xml", rss([item("Weather: rain in Basra", guid="w")]))
    options = 'interval = "10s"\njitter = "0s"\n[daemon]\nwatch = "200ms"\nheartbeat = "1s"\nstop_timeout = "5s"\n'
    feeds = [feed_server.url("/one.xml"), feed_server.url("/two.xml")]
    config = make_config(tmp_path, feeds, [smtp_server.url()], extra=options)
    settings = load_settings(config, env={})
    now = datetime.now(UTC)
    with Store.open(settings.database) as store:
        # Feed two was polled just before this (re)start, so the daemon's first poll of it waits for its next
        # check, which comes after the rule edit below (otherwise the test would wait for a 10 s interval).
        state = store.sync_feeds(settings.feeds, now)[1]
        store.save_fetch_ok(
            state.feed_id,
            now=now,
            url=state.url,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check=now + timedelta(seconds=2),
        )
    daemon = Daemon(config, settings)

    async def scenario() -> None:
        running = asyncio.create_task(daemon.run())
        [first] = await asyncio.to_thread(smtp_server.wait_for, 1, 10)  # feed one, with the rules of the start
        assert RELEVANT in str(first.message["Subject"])
        assert daemon.runtime is not None
        assert len(daemon.runtime.ruleset.rules) == 1

        (tmp_path / "rules" / "badr.toml").write_text(BADR_RULE.replace('any = ["badr"]', 'any = ["bard"]'))
        await wait_until(lambda: "badr.toml" in (daemon.reload_error or ""), timeout=5)  # a typo: kept out
        assert len(daemon.runtime.ruleset.rules) == 1
        (tmp_path / "rules" / "badr.toml").write_text(BADR_RULE)
        await wait_until(lambda: daemon.runtime is not None and len(daemon.runtime.ruleset.rules) == 2, timeout=5)
        assert daemon.reload_error is None
        assert feed_server.requests_to("/two.xml") == []  # feed two is polled after the edit, not before
        feed_server.set_feed("/two.xml", rss([item("Weather: rain in Basra", guid="w"), item(BADR_HEADLINE, guid="b")]))

        mails = await asyncio.to_thread(smtp_server.wait_for, 2, 10)
        assert BADR_HEADLINE in str(mails[1].message["Subject"])
        daemon.stopping.set()
        assert await running == 0

    asyncio.run(scenario())
    logged = log_lines.getvalue().splitlines()
    [failed] = [line for line in logged if "event=reload_failed" in line]
    assert "unknown" in failed
    [reloaded] = [line for line in logged if "event=reloaded" in line]
    assert "trigger=file files=badr.toml" in reloaded
    assert "rules=2" in reloaded
    with Store.open(settings.database) as store:
        status = store.daemon_status()
    assert status is not None
    assert (status.rules, status.last_reload_error) == (2, None)
    assert len(smtp_server.messages) == 2


def test_health_endpoint_serves_prometheus_metrics_and_healthz(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer, log_lines: io.StringIO
) -> None:
    """/metrics has polls, entries, matches, alerts sent, queue depth and per-feed last success; /healthz is 200."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="1"), item("Weather: rain in Basra", guid="2")]))
    options = DAEMON_OPTIONS + '[health]\nlisten = "127.0.0.1:0"\n'
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()], extra=options)
    daemon = Daemon(config, load_settings(config, env={}))

    async def scenario() -> None:
        running = asyncio.create_task(daemon.run())
        await wait_until(lambda: daemon.metrics.deliveries["sent"] == 1)
        assert daemon.health_server is not None
        address = daemon.health_server.address
        code, metrics = await http_get(address, "/metrics")
        assert code == 200
        lines = set(metrics.splitlines())
        assert 'monitor_polls_total{status="ok"} 1' in lines
        assert "monitor_new_entries_total 2" in lines
        assert "monitor_stored_entries_total 2" in lines
        assert "monitor_stored_matches_total 1" in lines
        assert "monitor_alerts_raised_total 1" in lines
        assert 'monitor_deliveries_total{result="sent"} 1' in lines
        assert "monitor_queue_depth 0" in lines
        assert "monitor_dead_letters 0" in lines
        assert "monitor_rules_loaded 1" in lines
        assert "# TYPE monitor_polls_total counter" in lines
        [success] = [
            line for line in lines if line.startswith('monitor_feed_last_success_timestamp_seconds{feed="Wire 1"}')
        ]
        assert abs(float(success.split()[-1]) - time.time()) < 60
        assert await http_get(address, "/healthz") == (200, "ok: running\n")
        assert (await http_get(address, "/nothing"))[0] == 404
        assert (await http_get(address, "/metrics", method="POST"))[0] == 405
        daemon.stopping.set()
        assert await running == 0

    asyncio.run(scenario())
    assert "event=health_listening address=127.0.0.1:" in log_lines.getvalue()
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        status = store.daemon_status()
    assert status is not None
    assert status.stopped_at is not None
    assert status.health is None  # the endpoint closed with the daemon


def test_reload_finishes_in_flight_poll_and_schedules_new_feeds(tmp_path: Path, feed_server: FeedServer) -> None:
    """A reload during a slow poll lets that poll finish and record its entry, and a feed added is polled at once."""
    body = rss([item(RELEVANT, guid="slow-1")])
    feed_server.route("/slow.xml", lambda _request: Reply(chunks=[body[:50], body[50:]], chunk_delay=0.6))
    feed_server.set_feed("/fast.xml", rss([item("Markets: the dinar steadies", guid="fast-1")]))
    config = make_config(tmp_path, [feed_server.url("/slow.xml")], [], extra=DAEMON_OPTIONS)
    daemon = Daemon(config, load_settings(config, env={}))

    async def scenario() -> None:
        running = asyncio.create_task(daemon.run())
        await wait_until(lambda: bool(feed_server.requests_to("/slow.xml")))
        config.write_text(config.read_text() + f'[[feeds]]\nurl = "{feed_server.url("/fast.xml")}"\nname = "Fast"\n')
        assert await daemon.reload("test") is True
        await wait_until(lambda: daemon.polls == 2)
        daemon.stopping.set()
        assert await running == 0

    asyncio.run(scenario())
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        states = {state.name: state for state in store.feed_states()}
        alerts = store.recent_alerts()
    assert states["Wire 1"].entries_seen == 1
    assert states["Fast"].entries_seen == 1
    assert [alert.title for alert in alerts] == [RELEVANT]


def test_reload_compiles_rules_off_the_event_loop(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload whose rule compile takes a second leaves the event loop free: other coroutines keep running."""
    feed_server.set_feed("/wire.xml", rss([item("Markets: the dinar steadies", guid="1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [], extra=DAEMON_OPTIONS)
    daemon = Daemon(config, load_settings(config, env={}))
    real_build = service.build_runtime

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)  # stands in for compiling tens of thousands of aliases
        return real_build(*args, **kwargs)

    async def scenario() -> tuple[bool, int]:
        running = asyncio.create_task(daemon.run())
        await wait_until(lambda: daemon.polls == 1)
        monkeypatch.setattr(service, "build_runtime", slow_build)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(tick())
        reloaded = await daemon.reload("test")
        ticker.cancel()
        daemon.stopping.set()
        assert await running == 0
        return reloaded, ticks

    reloaded, ticks = asyncio.run(scenario())
    assert reloaded
    assert ticks >= 10  # 20 ticks fit in the second the compile took; a blocked loop would have given ~1


def test_stop_abandons_a_hung_fetch_within_the_deadline(tmp_path: Path, log_lines: io.StringIO) -> None:
    """SIGTERM-style stop waits at most stop_timeout for a fetch that never ends, logs it masked, and returns 0."""
    with silent_server() as url:
        secret_url = url.replace("http://", "http://reader:hunter22@")
        options = '[daemon]\nwatch = "0s"\nstop_timeout = "1s"\n'
        config = make_config(tmp_path, [secret_url], [], extra=options)
        daemon = Daemon(config, load_settings(config, env={}))

        async def scenario() -> float:
            running = asyncio.create_task(daemon.run())
            await wait_until(lambda: bool(daemon.in_flight))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            daemon.stopping.set()
            assert await running == 0
            return time.monotonic() - started

        took = asyncio.run(scenario())
    assert took < 3
    logged = log_lines.getvalue()
    [abandoned] = [line for line in logged.splitlines() if "event=poll_abandoned" in line]
    assert "feed=" in abandoned
    assert "url=http://***@127.0.0.1:" in abandoned
    assert "hunter22" not in logged
    assert "abandoned=1" in logged
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        status = store.daemon_status()
    assert status is not None
    assert status.stopped_at is not None


def test_second_daemon_on_the_same_database_is_refused(tmp_path: Path) -> None:
    """A daemon refuses to start on a database whose daemon row names a live process with a fresh heartbeat."""
    config = make_config(tmp_path, [], [], extra=DAEMON_OPTIONS)
    settings = load_settings(config, env={})
    with Store.open(settings.database) as store:
        store.daemon_started(
            pid=os.getppid(),
            hostname=socket.gethostname(),
            now=datetime.now(UTC),
            heartbeat_every=15,
            config=str(config),
            feeds=0,
            rules=1,
        )
    with pytest.raises(StoreError, match="another monitor daemon is running on this database"):
        asyncio.run(Daemon(config, settings).run())
    with Store.open(settings.database) as store:
        status = store.daemon_status()
    assert status is not None
    assert (status.pid, status.stopped_at) == (os.getppid(), None)  # the other daemon's row is left alone


def test_health_address_in_use_stops_the_start_with_a_config_error(tmp_path: Path) -> None:
    """A [health] listen address that cannot be bound fails the start (exit 2) and leaves no live daemon row."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(tmp_path, [], [], extra=DAEMON_OPTIONS + f'[health]\nlisten = "127.0.0.1:{port}"\n')
        settings = load_settings(config, env={})
        with pytest.raises(ConfigError, match=f"health.listen: cannot listen on 127.0.0.1:{port}") as raised:
            asyncio.run(Daemon(config, settings).run())
    assert raised.value.exit_code == 2
    with Store.open(settings.database) as store:
        status = store.daemon_status()
    assert status is not None
    assert status.stopped_at is not None


def test_status_reports_a_crashed_daemon_as_not_running(tmp_path: Path) -> None:
    """`monitor status` exits 1 and says the process is gone when the daemon row names a dead pid."""
    from click.testing import CliRunner

    from monitor.cli import cli

    config = make_config(tmp_path, [], [])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        store.daemon_started(
            pid=dead.pid,
            hostname=socket.gethostname(),
            now=datetime.now(UTC),
            heartbeat_every=15,
            config=str(config),
            feeds=0,
            rules=1,
        )
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    assert result.exit_code == 1, result.output
    assert "NOT RUNNING" in result.output
    assert f"process {dead.pid} is gone" in result.output


def test_watchdog_period_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATCHDOG_USEC=1000000 means a ping every 0.5 s; another process's WATCHDOG_PID or none means no pings."""
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_period() == 0.5
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_period() == 0.5
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_period() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_period() is None


def test_watch_snapshot_sees_edits_additions_and_removals(tmp_path: Path) -> None:
    """The file watcher's snapshot changes when a rule file is edited, added or removed, and names the files."""
    config = tmp_path / "monitor.toml"
    config.write_text('rules = "rules"\n')
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.toml").write_text("# a\n")
    (rules / "notes.txt").write_text("not a rule file\n")
    before = watch.snapshot(config, rules)
    assert sorted(Path(path).name for path in before) == ["a.toml", "monitor.toml"]
    (rules / "notes.txt").write_text("edited, still not a rule file\n")
    assert watch.snapshot(config, rules) == before
    (rules / "a.toml").write_text("# a, edited\n")
    (rules / "b.toml").write_text("# b\n")
    after = watch.snapshot(config, rules)
    assert [Path(path).name for path in watch.changed_paths(before, after)] == ["a.toml", "b.toml"]
    (rules / "b.toml").unlink()
    assert [Path(path).name for path in watch.changed_paths(after, watch.snapshot(config, rules))] == ["b.toml"]
    assert watch.snapshot(config, tmp_path / "missing") == {str(config): before[str(config)]}


def test_systemd_credentials_answer_missing_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """${VAR} in a target URL is read from $CREDENTIALS_DIRECTORY/VAR when the environment has no VAR."""
    config = make_config(tmp_path, [], ["json://127.0.0.1:9/hook/${HOOK_TOKEN}?user=${HOOK_USER}"])
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "HOOK_TOKEN").write_text("s3cr3t-token\n")
    (credentials / "HOOK_USER").write_text("from-credential")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("HOOK_USER", "from-environment")
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    [target] = load_settings(config).targets
    assert target.url == "json://127.0.0.1:9/hook/s3cr3t-token?user=from-environment"
    assert "s3cr3t-token" not in target.display
