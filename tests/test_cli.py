"""The `monitor` command as a user runs it: real processes, exit codes, one-line errors, tables and JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.cli import cli
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_end_to_end import IRRELEVANT, RELEVANT, make_config

REPO = Path(__file__).resolve().parent.parent


def monitor(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m monitor ARGS` as a separate process and capture its output."""
    env = {key: value for key, value in os.environ.items() if key not in ("MONITOR_CONFIG", "NOTIFY_SOCKET")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def all_commands() -> list[list[str]]:
    """Every command path of the CLI, e.g. ["rules", "check"]."""
    paths: list[list[str]] = [[]]
    for name, command in cli.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


@pytest.mark.parametrize("path", all_commands(), ids=lambda path: " ".join(path) or "monitor")
def test_every_command_has_help(path: list[str]) -> None:
    """Every command and subcommand answers --help with a usage line and exit 0."""
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_every_command_is_in_the_readme() -> None:
    """The README's command table names every top-level command."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:  # type: ignore[attr-defined]
        assert f"`monitor {name}" in readme, name


def test_run_once_prints_alerts_on_console_and_not_twice(tmp_path: Path, feed_server: FeedServer) -> None:
    """Without targets, `run --once` prints the alert on stdout; the next run prints nothing new; logs go to stderr."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="1", link="https://n.example.org/1"), item(IRRELEVANT)]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [])
    first = monitor("--config", str(config), "run", "--once")
    assert first.returncode == 0, first.stderr
    assert RELEVANT in first.stdout
    assert "https://n.example.org/1" in first.stdout
    assert IRRELEVANT not in first.stdout
    assert "1 alerts" in first.stderr
    second = monitor("--config", str(config), "run", "--once")
    assert second.returncode == 0
    assert second.stdout == ""


def test_run_once_with_unreachable_feeds_reports_each_and_exits_zero(tmp_path: Path) -> None:
    """Feeds that cannot be reached are each reported on one line and the run still exits 0."""
    from tests.feedserver import refused_url

    config = make_config(tmp_path, [refused_url(), refused_url().replace("feed.xml", "other.xml")], [])
    result = monitor("--config", str(config), "run", "--once")
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("monitor: feed")]
    assert len(lines) == 2, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("config_text", "words"),
    [
        ('interval = "often"\n', "interval: not a duration"),
        ('[[feeds]]\nurl = "https://a.org"\nbogus = 1\n', "feeds.bogus: unknown key"),
        ("[[feeds]\n", "invalid TOML"),
    ],
)
def test_broken_config_is_one_line_exit_2(tmp_path: Path, config_text: str, words: str) -> None:
    """A broken config gives one line naming file and line, exit code 2, no traceback, nothing started."""
    config = tmp_path / "monitor.toml"
    config.write_text(config_text)
    result = monitor("--config", str(config), "run", "--once")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"monitor: error: {config}:")
    assert words in line
    assert not (tmp_path / "state").exists()


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    """--config naming a missing file is a one-line error with exit code 2."""
    result = monitor("--config", str(tmp_path / "nope.toml"), "feeds")
    assert result.returncode == 2
    assert "nope.toml: configuration file not found" in result.stderr


def test_broken_rule_file_is_one_line_exit_2(tmp_path: Path, feed_server: FeedServer) -> None:
    """A broken rule file stops `run` with one line naming the rule file, exit code 2."""
    config = make_config(tmp_path, [feed_server.url("/x.xml")], [])
    (tmp_path / "rules" / "bad.toml").write_text('[rules.broken]\nseverity = "urgent"\nany = ["nobody"]\n')
    result = monitor("--config", str(config), "run", "--once")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "bad.toml:" in line
    assert feed_server.requests == []


def test_match_json_explains_each_match(tmp_path: Path) -> None:
    """`match FILE --json` prints one object per matching entry with rule, alias, field, span and score."""
    make_config(tmp_path, [], [])
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss([item(RELEVANT, guid="1", link="https://n.example.org/1"), item(IRRELEVANT, guid="2")]))
    result = monitor("match", str(feed), "--rules", str(tmp_path / "rules"), "--json")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    record = json.loads(line)
    assert record["link"] == "https://n.example.org/1"
    assert record["title"] == RELEVANT
    [found] = record["matches"]
    assert found["rule"] == "kataib-hezbollah"
    assert found["score"] > 0
    assert found["matched"] == ["Kata'ib Hizballah"]
    [hit] = found["hits"]
    assert hit["field"] == "title"
    assert RELEVANT[hit["start"] : hit["end"]] == "Kata'ib Hizballah"
    assert hit["alias"] in ("Kataeb Hezbollah", "Kataib Hezbollah", "Kata'ib Hezbollah")


def test_match_table_and_missing_source(tmp_path: Path) -> None:
    """`match` prints a table for people; a missing source is one line and exit 1, other sources still run."""
    make_config(tmp_path, [], [])
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss([item(RELEVANT, guid="1")]))
    result = monitor("match", str(tmp_path / "missing.xml"), str(feed), "--rules", str(tmp_path / "rules"))
    assert result.returncode == 1
    assert result.stdout.startswith("RULES")
    assert "kataib-hezbollah" in result.stdout
    assert "missing.xml: file not found" in result.stderr


def test_match_fetches_a_url(tmp_path: Path, feed_server: FeedServer) -> None:
    """`match URL` fetches the feed once over HTTP and matches it."""
    make_config(tmp_path, [], [])
    feed_server.set_feed("/f.xml", rss([item(RELEVANT, guid="1")]))
    result = monitor("match", feed_server.url("/f.xml"), "--rules", str(tmp_path / "rules"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["title"] == RELEVANT


def test_rules_check_and_test(tmp_path: Path) -> None:
    """`rules check` accepts good rules and names file:line of bad ones (exit 2); `rules test` fails with exit 4."""
    make_config(tmp_path, [], [])
    rules = tmp_path / "rules"
    good = monitor("rules", "check", str(rules))
    assert good.returncode == 0, good.stderr
    assert "1 rules" in good.stdout
    tested = monitor("rules", "test", str(rules))
    assert tested.returncode == 0, tested.stdout
    assert "2 passed, 0 failed" in tested.stdout

    (rules / "militias.toml").write_text(
        (rules / "militias.toml").read_text().replace('no_match = ["', 'no_match = ["KH drone strike", "')
    )
    failing = monitor("rules", "test", str(rules))
    assert failing.returncode == 4
    assert "should not match: KH drone strike" in failing.stdout

    (rules / "extra.toml").write_text('[rules.x]\nany = ["nobody"]\n')
    bad = monitor("rules", "check", str(rules))
    assert bad.returncode == 2
    assert "extra.toml:" in bad.stderr


def test_feeds_table_lists_problem_feeds_first(tmp_path: Path, feed_server: FeedServer) -> None:
    """`feeds` shows failing feeds before healthy ones, and --json gives one object per feed."""
    feed_server.set_feed("/good.xml", rss([item(IRRELEVANT, guid="1")]))
    config = make_config(tmp_path, [feed_server.url("/good.xml"), feed_server.url("/missing.xml")], [])
    monitor("--config", str(config), "run", "--once")
    table = monitor("--config", str(config), "feeds")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["FEED", "STATUS"]
    assert "Wire 2" in lines[1]
    assert "failing" in lines[1]
    assert "Wire 1" in lines[2]
    records = [json.loads(line) for line in monitor("--config", str(config), "feeds", "--json").stdout.splitlines()]
    assert [record["name"] for record in records] == ["Wire 2", "Wire 1"]
    assert records[1]["entries_seen"] == 1


@pytest.mark.slow
def test_daemon_alerts_then_stops_cleanly_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """`monitor run` polls on start, mails the alert within seconds, and exits 0 on SIGTERM."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()])
    env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        mails = smtp_server.wait_for(1, timeout=20)
        assert len(mails) == 1
        assert RELEVANT in str(mails[0].message["Subject"])
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 10
    assert "event=stopped" in stderr
    assert "Traceback" not in stderr
