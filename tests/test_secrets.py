"""The red-team check of issue 12: no secret of a feed or target URL reaches any output of monitor.

One configuration holds every kind of secret a URL can carry: a feed with user and password and an `apikey`
parameter (and no name), a feed with a token as user name, a failing feed with credentials, and webhook targets
whose path and parameters carry a token from the environment. A real `monitor run --once` fills the database
(entries, alerts, a delivered and a dead delivery). Then every command of the CLI, enumerated from click so a
new command is covered without editing this file, runs in each output format it offers, with -v and -vv logs;
the configuration error paths run (a credentialed URL listed twice, a bad scheme, an invalid Slack URL made of
a token); a daemon serves /metrics and /healthz, fails a reload on that Slack URL and reports it (log, /healthz,
systemd STATUS=, the database's daemon row, `monitor status`). All of it, the database's text columns and the
messages the webhook received are searched for each secret, in any letter case.
"""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from monitor.cli import cli
from monitor.errors import EXIT_UNDELIVERED
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.hookserver import HookServer
from tests.test_end_to_end import RELEVANT, make_config
from tests.test_service import DAEMON_OPTIONS, NotifySocket, StreamLines

REPO = Path(__file__).resolve().parent.parent
ARTICLE = REPO / "tests" / "data" / "seed" / "tarhuna-graves.txt"

FEED_USER = "alice"
FEED_PASSWORD = "S3CRET-FEED"
FEED_KEY = "S3CRET-KEY"
FEED_TOKEN = "S3CRET-TOKEN"
HOOK_TOKEN = "S3CRET-HOOK"
SLACK_TOKEN = "S3CRET-SLACK-0123456789abcdef"
SECRETS = (FEED_USER, FEED_PASSWORD, FEED_KEY, FEED_TOKEN, HOOK_TOKEN, SLACK_TOKEN)
ENVIRONMENT = {"HOOK_TOKEN": HOOK_TOKEN, "SLACK_TOKEN": SLACK_TOKEN}

SECOND_HEADLINE = "Kataib Hezbollah names a new commander in Jurf al-Sakhar"

FLAG_VERBOSITY = ("-vv",)
"""Flag variants run with debug logs only; the plain form of a command runs quiet, -v and -vv."""


@dataclass
class Setup:
    """The servers, files and URLs of one run of the check."""

    tmp_path: Path
    feed_server: FeedServer
    config: Path
    feed_url: str  # user, password and apikey; no name
    token_feed_url: str  # a token as user name
    failing_url: str  # credentials and a token parameter; answers 404
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (what ran, what it printed)
    fresh: int = 0

    def fresh_dir(self) -> str:
        """A new empty directory (seed never overwrites a draft, so each run writes its own)."""
        self.fresh += 1
        path = self.tmp_path / f"out{self.fresh}"
        path.mkdir()
        return str(path)


def monitor(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m monitor --config CONFIG ARGS` as a user runs it, with the secrets in its environment."""
    env = {key: value for key, value in os.environ.items() if key not in ("MONITOR_CONFIG", "NOTIFY_SOCKET")}
    env.update(ENVIRONMENT)
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_and_keep(setup: Setup, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command, keep its stdout and stderr for the search, and fail on a crash."""
    done = monitor(config, *args)
    label = "monitor " + " ".join(args)
    setup.outputs.append((label, done.stdout + "\n" + done.stderr))
    assert done.returncode != 70, f"{label}: internal error\n{done.stderr}"
    assert "Traceback" not in done.stderr, f"{label}:\n{done.stderr}"
    return done


def command_paths(
    group: click.Group = cli, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the CLI with its path, groups included, from click itself."""
    yield prefix, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def arguments(setup: Setup) -> dict[tuple[str, ...], list[list[str]]]:
    """The argument lists each command runs with, where its defaults are not enough; "{fresh}" is a new directory.

    A command with a required argument that is missing here fails the test: add it, so the command is covered.
    """
    saved = setup.tmp_path / "saved-feed.xml"
    opml = setup.tmp_path / "export.opml"
    return {
        # `monitor run` without --once is the daemon: it runs in test_no_secret_in_any_output's daemon part.
        ("run",): [["--once"]],
        ("match",): [[setup.feed_url], [setup.failing_url], [str(saved)]],
        ("rules", "check"): [[], ["--history", "30d"]],
        ("feeds", "import"): [[str(opml)]],
        ("alerts", "retry"): [["--all-dead"], ["1", "999"]],
        ("seed",): [[str(ARTICLE), "--out", "{fresh}", "--history", "30d"]],
    }


def variants(path: tuple[str, ...], command: click.Command, bases: list[list[str]]) -> Iterator[list[str]]:
    """The invocations of one command: each base quiet, -v and -vv, and with each of its flags (at -vv)."""
    flags = [
        option.opts[0]
        for option in command.params
        if isinstance(option, click.Option) and option.is_flag and not option.hidden
    ]
    seen: set[tuple[str, ...]] = set()
    for base in bases:
        for verbosity in ((), ("-v",), ("-vv",)):
            yield [*verbosity, *path, *base]
        for flag in flags:
            key = (*path, *base, flag)
            if flag in base or key in seen:
                continue
            seen.add(key)
            yield [*FLAG_VERBOSITY, *path, *base, flag]


def write_feeds(setup: Setup) -> None:
    """The feeds behind the URLs: Basic authentication required; relative item links."""
    server = setup.feed_server
    server.set_feed(
        "/feed.xml",
        rss([item(RELEVANT, guid="a1", link="/news/a1")], link="/"),
        auth=(FEED_USER, FEED_PASSWORD),
    )
    server.set_feed("/other.xml", rss([item(SECOND_HEADLINE, guid="b1", link="news/b1")]), auth=(FEED_TOKEN, ""))
    (setup.tmp_path / "saved-feed.xml").write_bytes(rss([item(RELEVANT, guid="s1", link="/saved/1")]))


def config_text(setup: Setup, hook: HookServer, failing_hook: HookServer, extra_targets: str = "") -> str:
    """monitor.toml with three unnamed credentialed feeds, two webhook targets and the health endpoint."""
    return "\n".join(
        [
            'database = "state/monitor.db"',
            'rules = "rules"',
            'backfill = "24h"',
            DAEMON_OPTIONS,
            '[health]\nlisten = "127.0.0.1:0"',
            "[retry]\nmax_attempts = 1",
            '[fetch]\ndeadline = "5s"\nconnect_timeout = "2s"\nread_timeout = "3s"',
            *(f'[[feeds]]\nurl = "{url}"' for url in (setup.feed_url, setup.token_feed_url, setup.failing_url)),
            f'[[targets]]\nname = "desk"\nurl = "json://127.0.0.1:{hook.port}/hook/${{HOOK_TOKEN}}"',
            f'[[targets]]\nname = "pager"\nurl = "json://127.0.0.1:{failing_hook.port}/p/${{HOOK_TOKEN}}?-apikey=${{HOOK_TOKEN}}"',
            extra_targets,
        ]
    )


def http_get(address: str, path: str) -> tuple[int, str]:
    """GET http://ADDRESS/PATH: (status, body)."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def daemon_part(setup: Setup, broken_config: str) -> None:
    """A daemon for a few seconds: /metrics and /healthz, then a reload that fails on the invalid Slack URL."""
    good = setup.config.read_text(encoding="utf-8")
    notify = NotifySocket(setup.tmp_path / "notify.sock")
    env = {key: value for key, value in os.environ.items() if key not in ("MONITOR_CONFIG", "NOTIFY_SOCKET")}
    env.update(ENVIRONMENT, NOTIFY_SOCKET=str(notify.path))
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(setup.config), "-v", "run"],
        cwd=setup.config.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = StreamLines(process.stdout), StreamLines(process.stderr)  # type: ignore[arg-type]
    try:
        address = stderr.wait_for("event=health_listening", timeout=30).split("address=")[1].split()[0]
        notify.wait_for(lambda messages: any(m.startswith("READY=1") for m in messages), timeout=30)
        for path in ("/metrics", "/healthz"):
            status, body = http_get(address, path)
            setup.outputs.append((f"daemon GET {path} ({status})", body))
        assert "monitor_feed_consecutive_errors{feed=" in setup.outputs[-2][1]

        setup.config.write_text(broken_config, encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        notify.wait_for(lambda messages: any("RELOAD FAILED" in m for m in messages), timeout=30)
        status, body = http_get(address, "/healthz")
        setup.outputs.append((f"daemon GET /healthz after the failed reload ({status})", body))
        assert "the last reload failed: " in body
        assert "slack://***" in body
    finally:
        setup.config.write_text(good, encoding="utf-8")
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
            notify.close()
    setup.outputs.append(("daemon stdout", stdout.text()))
    setup.outputs.append(("daemon stderr (-v)", stderr.text()))
    setup.outputs.append(("daemon sd_notify messages", "\n".join(notify.messages)))
    assert "event=reload_failed" in setup.outputs[-2][1]


def database_text(database: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Every text value of every table, as (table.column, value); and the feeds' URLs, kept apart."""
    found: list[tuple[str, str]] = []
    urls: list[str] = []
    connection = sqlite3.connect(database)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in connection.execute(f'SELECT "{column}" FROM "{table}"'):
                    if not isinstance(value, str):
                        continue
                    if table == "feeds" and column in ("config_url", "url"):
                        urls.append(value)  # what the fetcher uses: the real URL, credentials included
                    else:
                        found.append((f"{table}.{column}", value))
    finally:
        connection.close()
    return found, urls


def leaks(outputs: list[tuple[str, str]]) -> list[str]:
    """Where a secret appears (any letter case): "what ran: SECRET in ...context..."."""
    found = []
    for label, text in outputs:
        folded = text.lower()
        for secret in SECRETS:
            at = folded.find(secret.lower())
            if at >= 0:
                found.append(f"{label}: {secret} in {text[max(0, at - 80) : at + 60]!r}")
    return found


@pytest.mark.slow
def test_no_secret_in_any_output(tmp_path: Path, feed_server: FeedServer) -> None:
    """No secret in any command's output, format or log level, error path, /metrics, /healthz, STATUS=, stored text."""
    port = feed_server.port
    setup = Setup(
        tmp_path=tmp_path,
        feed_server=feed_server,
        config=make_config(tmp_path, [], []),  # the rules directory; the file is rewritten below
        feed_url=f"http://{FEED_USER}:{FEED_PASSWORD}@127.0.0.1:{port}/feed.xml?apikey={FEED_KEY}",
        token_feed_url=f"http://{FEED_TOKEN}@127.0.0.1:{port}/other.xml",
        failing_url=f"http://{FEED_USER}:{FEED_PASSWORD}@127.0.0.1:{port}/gone.xml?token={FEED_KEY}",
    )
    write_feeds(setup)
    invalid_slack = '[[targets]]\nname = "chat"\nurl = "slack://${SLACK_TOKEN}"'
    with HookServer() as hook, HookServer() as failing_hook:
        failing_hook.status = 500
        setup.config.write_text(config_text(setup, hook, failing_hook), encoding="utf-8")
        broken = config_text(setup, hook, failing_hook, extra_targets=invalid_slack)

        # A real poll: entries, alerts, one delivery sent and one dead; the feeds fetched with their credentials.
        first = run_and_keep(setup, setup.config, "-vv", "run", "--once")  # with the poll's log lines
        assert first.returncode == EXIT_UNDELIVERED, first.stderr  # the failing target's alert is dead
        assert "2 alerts" in first.stderr
        assert "event=feed_polled" in first.stderr
        assert hook.posts, "the webhook target received no alert"
        [with_key] = [r for r in feed_server.requests if r.path.startswith("/feed.xml")][:1]
        assert with_key.path == f"/feed.xml?apikey={FEED_KEY}"
        assert with_key.headers["authorization"] == "Basic " + base64.b64encode(b"alice:S3CRET-FEED").decode()
        [token] = [r for r in feed_server.requests if r.path == "/other.xml"][:1]
        assert token.headers["authorization"] == "Basic " + base64.b64encode(b"S3CRET-TOKEN:").decode()

        daemon_part(setup, broken)

        # The OPML export, with and without the credentials (the only output meant to hold them).
        exported = run_and_keep(setup, setup.config, "feeds", "export")
        assert f"http://***@127.0.0.1:{port}/feed.xml?apikey=***" in exported.stdout
        assert "credentials left out of 3 feed URLs" in exported.stderr
        assert "--with-credentials" in exported.stderr
        (tmp_path / "export.opml").write_text(exported.stdout, encoding="utf-8")
        shutil.copy(setup.config, tmp_path / "import-copy.toml")  # import appends: never to the checked config
        with_credentials = monitor(setup.config, "feeds", "export", "--with-credentials")
        assert setup.feed_url in with_credentials.stdout
        assert "left out" not in with_credentials.stderr

        # Every command of the CLI, in each of its output formats.
        extra = arguments(setup)
        for path, command in command_paths():
            required = [p.name for p in command.params if isinstance(p, click.Argument) and p.required]
            assert not required or path in extra, f"monitor {' '.join(path)}: add its arguments to arguments()"
            for argv in variants(path, command, extra.get(path, [[]])):
                if "--with-credentials" in argv:
                    continue  # checked above: the one output that holds the credentials on purpose
                config = tmp_path / "import-copy.toml" if path == ("feeds", "import") else setup.config
                run_and_keep(setup, config, *(setup.fresh_dir() if arg == "{fresh}" else arg for arg in argv))

        # The configuration error paths.
        for name, text in [
            ("twice", config_text(setup, hook, failing_hook).replace(setup.token_feed_url, setup.feed_url)),
            ("scheme", config_text(setup, hook, failing_hook).replace("http://alice", "ftp://alice", 1)),
            ("slack", broken),
        ]:
            bad = tmp_path / f"bad-{name}.toml"
            bad.write_text(text, encoding="utf-8")
            for argv in (["run", "--once"], ["-vv", "run", "--once"], ["run"], ["feeds", "--json"], ["status"]):
                done = run_and_keep(setup, bad, *argv)
                if name != "slack" or argv[-1] in ("run", "--once"):
                    assert done.returncode == 2, done.stderr
        posts = [post.body.decode() for post in (*hook.posts, *failing_hook.posts)]

    stored, urls = database_text(tmp_path / "state" / "monitor.db")
    found = (
        leaks(setup.outputs) + leaks(stored) + leaks([(f"webhook message {n}", body) for n, body in enumerate(posts)])
    )
    assert not found, "secrets leaked:\n" + "\n".join(found)

    # And the check looked at real output: the commands ran, the paths under test were taken.
    assert len(setup.outputs) > 60
    everything = "\n".join(text for _, text in setup.outputs)
    assert "listed twice" in everything
    assert "not an http(s) URL: 'ftp://***@127.0.0.1" in everything
    assert "target 'chat': apprise cannot load slack://***" in everything
    assert "LAST RELOAD FAILED" in everything  # monitor status, from the daemon row
    assert f"http://127.0.0.1:{port}/news/a1" in everything  # a relative link resolves without the credentials
    assert any(f"Source: 127.0.0.1:{port}/feed.xml" in body for body in posts)  # the name of a feed without one
    assert {f"127.0.0.1:{port}/feed.xml", f"127.0.0.1:{port}/other.xml"} <= {v for k, v in stored if k == "feeds.name"}
    assert any(k == "daemon.last_reload_error" and "slack://***" in v for k, v in stored)
    assert setup.feed_url in urls  # the fetcher keeps the real URL
