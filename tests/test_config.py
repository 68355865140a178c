"""config.py: discovery, defaults, durations and sizes, env expansion, and one-line errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import find_config, load_settings, parse_duration, parse_size
from monitor.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_gets_defaults_and_relative_paths(tmp_path: Path) -> None:
    """A config with one feed gets the documented defaults; relative paths resolve from the config's folder."""
    (tmp_path / "myrules").mkdir()
    settings = load_settings(write(tmp_path, 'rules = "myrules"\n[[feeds]]\nurl = "https://example.org/feed"\n'))
    assert settings.database == tmp_path / "state" / "monitor.db"
    assert settings.rules_dir == tmp_path / "myrules"
    assert settings.backfill == 86400
    assert settings.interval == 600
    assert settings.fetch.deadline == 30
    assert settings.fetch.max_bytes == 10 * 1024 * 1024
    [feed] = settings.feeds
    assert (feed.name, feed.interval) == ("example.org/feed", 600)  # no name: host and path
    assert settings.targets == ()


def test_durations_and_sizes() -> None:
    """Durations and sizes accept the documented spellings and reject others."""
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration(45) == 45
    assert parse_duration("10 minutes") is None
    assert parse_duration(True) is None
    assert parse_size("10MB") == 10_000_000
    assert parse_size("512KiB") == 512 * 1024
    assert parse_size(2048) == 2048
    assert parse_size("lots") is None


def test_feed_interval_and_targets(tmp_path: Path) -> None:
    """Per-feed intervals override the default; targets get names, filters and masked display URLs."""
    settings = load_settings(
        write(
            tmp_path,
            'interval = "5m"\n'
            '[[feeds]]\nurl = "https://a.org/rss"\nname = "A"\ninterval = "1h"\n'
            '[[feeds]]\nurl = "https://b.org/rss"\n'
            '[[targets]]\nname = "mail"\nurl = "mailto://user:${PW}@smtp.example.org?to=x@example.org"\n'
            'min_severity = "high"\nrules = ["kataib-hezbollah"]\n',
        ),
        env={"PW": "s3cret"},
    )
    assert [feed.interval for feed in settings.feeds] == [3600, 300]
    [target] = settings.targets
    assert target.url == "mailto://user:s3cret@smtp.example.org?to=x@example.org"
    assert "s3cret" not in target.display
    assert (target.name, target.min_severity, target.rules) == ("mail", "high", ("kataib-hezbollah",))


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[[feeds]]\nurl = "https://a.org"\nintervall = "5m"\n', 3, "feeds.intervall: unknown key"),
        ('backfill = "soon"\n', 1, "backfill: not a duration"),
        ('\n[[feeds]]\nurl = "ftp://a.org/x"\n', 3, "not an http(s) URL"),
        ('[[feeds]]\nurl = "https://a.org"\n[[feeds]]\nurl = "https://a.org"\n', 4, "listed twice"),
        ('[[targets]]\nurl = "mailto://${NOPE}@x"\n', 2, "${NOPE} is not set"),
        ('[[targets]]\nurl = "json://x"\nmin_severity = "urgent"\n', 3, "min_severity"),
        ('timezone = "Mars/Olympus"\n', 1, "unknown time zone"),
        ('[fetch]\nmax_size = "huge"\n', 2, "fetch.max_size: not a size"),
        ("concurrency = 0\n", 1, "whole number"),
        ('[[feeds]]\nname = "x"\n', 1, "has no url"),
        ("database = \n", 1, "invalid TOML"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, words: str) -> None:
    """Every configuration mistake is one ConfigError naming the file, the line and the key."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = caught.value.one_line()
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message
    assert "\n" not in message


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config wins, then ./monitor.toml, then $MONITOR_CONFIG; a missing --config file is an error."""
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("")
    monkeypatch.chdir(tmp_path)
    assert find_config(None, env={"MONITOR_CONFIG": str(elsewhere)}) == elsewhere
    (tmp_path / "monitor.toml").write_text("")
    assert find_config(None, env={"MONITOR_CONFIG": str(elsewhere)}) == Path("monitor.toml")
    assert find_config(elsewhere) == elsewhere
    with pytest.raises(ConfigError, match="not found"):
        find_config(tmp_path / "missing.toml")


def test_repository_default_config_is_valid() -> None:
    """The monitor.toml shipped in the repository loads, with real feeds and no targets (console alerts)."""
    settings = load_settings(Path(__file__).parent.parent / "monitor.toml", env={})
    assert len(settings.feeds) >= 8
    assert all(feed.url.startswith("https://") for feed in settings.feeds)
    assert settings.targets == ()


def test_zero_durations_need_no_unit() -> None:
    """A duration of "0" needs no unit; other bare numbers in strings are still rejected."""
    assert parse_duration("0") == 0
    assert parse_duration("0.0") == 0
    assert parse_duration("0s") == 0
    assert parse_duration("90") is None
    assert parse_duration("-0") is None


@pytest.mark.parametrize("window", ['"0"', '"0s"', "0"])
def test_story_window_zero_turns_grouping_off(tmp_path: Path, window: str) -> None:
    """`[stories] window = "0"` (as docs/configuration.md says) loads, and the runtime then groups no stories."""
    from datetime import UTC, datetime

    from monitor.pipeline import build_runtime

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text('[actors.a]\nname = "Alpha"\n[rules.a]\nany = ["a"]\n', encoding="utf-8")
    settings = load_settings(write(tmp_path, f'rules = "rules"\n[stories]\nwindow = {window}\n'))
    assert settings.story_window == 0
    assert build_runtime(settings, datetime.now(UTC)).stories is None
    default = load_settings(write(tmp_path, 'rules = "rules"\n'))
    assert build_runtime(default, datetime.now(UTC)).stories is not None
