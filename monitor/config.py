"""monitor.toml -> validated `Settings`, once, with errors that name the file, line and key.

The first stage of every command: find the configuration file, read it, check every key and turn durations,
sizes and relative paths into values the rest of the pipeline uses as they are. Reads one file; no other I/O.
See docs/configuration.md for every key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError
from monitor.model import SEVERITIES, FeedConfig, FetchSettings, TargetConfig
from monitor.redact import feed_display_name, redact_url
from monitor.tomlfile import TomlLines, load_toml, location

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_ZERO = re.compile(r"0+(?:\.0*)?")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_TOP_KEYS = {
    "database",
    "rules",
    "backfill",
    "interval",
    "jitter",
    "concurrency",
    "per_host",
    "timezone",
    "retry",
    "fetch",
    "feeds",
    "targets",
    "daemon",
    "health",
    "stories",
    "templates",
}
_FETCH_KEYS = {"connect_timeout", "read_timeout", "deadline", "max_size", "max_redirects", "user_agent"}
_RETRY_KEYS = {"first", "max", "max_attempts", "max_age"}
_FEED_KEYS = {"url", "name", "interval", "enabled", "category"}
_DAEMON_KEYS = {"watch", "heartbeat", "stop_timeout", "send_wait"}
_HEALTH_KEYS = {"listen"}
_TARGET_KEYS = {
    "url",
    "name",
    "rules",
    "min_severity",
    "mode",
    "digest",
    "timezone",
    "quiet_hours",
    "break_through",
    "storm",
}
_STORIES_KEYS = {"window"}
_STORM_KEYS = {"max", "window"}


@dataclass(frozen=True)
class RetrySettings:
    """Delivery retry policy: exponential back-off from `first` to `max`, dead after attempts or age."""

    first: float = 60.0
    max: float = 3600.0
    max_attempts: int = 20
    max_age: float = 3 * 86400.0


@dataclass(frozen=True)
class DaemonSettings:
    """How `monitor run` watches its files, reports that it is alive and stops (docs/operations.md)."""

    watch: float = 2.0  # seconds between checks of the config file and rule files for changes; 0: off
    heartbeat: float = 15.0  # seconds between heartbeats written to the database (`monitor status`)
    stop_timeout: float = 20.0  # seconds a stop waits for in-flight polls and deliveries
    send_wait: float = 30.0  # seconds a delivery round waits for one send before it runs on (monitor.pipeline.Sends)
    health_listen: tuple[str, int] | None = None  # [health] listen = "127.0.0.1:9464"; None: no endpoint


@dataclass(frozen=True)
class Settings:
    """Everything a command needs from the configuration, validated."""

    path: Path | None  # the configuration file, None for built-in defaults
    database: Path
    rules_dir: Path
    backfill: float  # seconds
    interval: float  # default poll interval, seconds
    jitter: float  # seconds of random delay added to each scheduled poll
    concurrency: int  # feeds fetched at once
    per_host: int  # feeds of one host fetched at once
    timezone: str
    fetch: FetchSettings
    retry: RetrySettings
    feeds: tuple[FeedConfig, ...]
    targets: tuple[TargetConfig, ...]
    notes: tuple[str, ...] = field(default=())  # non-fatal remarks for the operator
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    story_window: float = 86400.0  # [stories] window: seconds a story takes later reports; 0: no grouping
    templates: Path | None = None  # directory of user message templates (monitor.templates)

    @property
    def tzinfo(self) -> ZoneInfo:
        """The time zone alerts are rendered in."""
        return ZoneInfo(self.timezone)


def find_config(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    """The configuration file to use: --config, else ./monitor.toml, $MONITOR_CONFIG, /etc/monitor/monitor.toml."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("configuration file not found", location=str(path))
        return path
    env = os.environ if env is None else env
    candidates = [Path("monitor.toml")]
    if env.get("MONITOR_CONFIG"):
        candidates.append(Path(env["MONITOR_CONFIG"]))
    candidates.append(Path("/etc/monitor/monitor.toml"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no configuration found (looked at ./monitor.toml, $MONITOR_CONFIG, /etc/monitor/monitor.toml)",
        hint="pass --config FILE, or run from the directory holding monitor.toml",
    )


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration at `path`; raise ConfigError naming file, line and key."""
    env = environment() if env is None else env
    document, text = load_toml(path, ConfigError)
    reader = _Reader(path, text)
    reader.unknown_keys(document, _TOP_KEYS, None)
    base = path.resolve().parent

    interval = reader.duration(document, "interval", None, default=600.0, minimum=10.0)
    fetch_table = reader.table(document, "fetch")
    reader.unknown_keys(fetch_table, _FETCH_KEYS, "fetch")
    defaults = FetchSettings()
    fetch = FetchSettings(
        timeout_connect=reader.duration(fetch_table, "connect_timeout", "fetch", defaults.timeout_connect, 0.1),
        timeout_read=reader.duration(fetch_table, "read_timeout", "fetch", defaults.timeout_read, 0.1),
        deadline=reader.duration(fetch_table, "deadline", "fetch", defaults.deadline, 0.1),
        max_bytes=reader.size(fetch_table, "max_size", "fetch", defaults.max_bytes),
        max_redirects=reader.integer(fetch_table, "max_redirects", "fetch", defaults.max_redirects, 0),
        user_agent=reader.string(fetch_table, "user_agent", "fetch", defaults.user_agent),
    )
    retry_table = reader.table(document, "retry")
    reader.unknown_keys(retry_table, _RETRY_KEYS, "retry")
    retry_defaults = RetrySettings()
    retry = RetrySettings(
        first=reader.duration(retry_table, "first", "retry", retry_defaults.first, 1.0),
        max=reader.duration(retry_table, "max", "retry", retry_defaults.max, 1.0),
        max_attempts=reader.integer(retry_table, "max_attempts", "retry", retry_defaults.max_attempts, 1),
        max_age=reader.duration(retry_table, "max_age", "retry", retry_defaults.max_age, 60.0),
    )
    timezone = reader.string(document, "timezone", None, "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"timezone: unknown time zone {timezone!r}",
            location=location(path, text, None, "timezone"),
            hint='use an IANA name such as "UTC" or "Europe/London"',
        ) from None

    rules_value = reader.string(document, "rules", None, "")
    if rules_value:
        rules_dir = _resolve(base, rules_value)
    else:
        from monitor.rules import shipped_rules_dir

        rules_dir = shipped_rules_dir()

    return Settings(
        path=path,
        database=_resolve(base, reader.string(document, "database", None, "state/monitor.db")),
        rules_dir=rules_dir,
        backfill=reader.duration(document, "backfill", None, default=86400.0, minimum=0.0),
        interval=interval,
        jitter=reader.duration(document, "jitter", None, default=min(60.0, interval / 10), minimum=0.0),
        concurrency=reader.integer(document, "concurrency", None, 16, 1),
        per_host=reader.integer(document, "per_host", None, 4, 1),
        timezone=timezone,
        fetch=fetch,
        retry=retry,
        feeds=_feeds(reader, document, interval),
        targets=_targets(reader, document, env),
        daemon=_daemon(reader, document),
        story_window=_story_window(reader, document),
        templates=_resolve(base, reader.string(document, "templates", None, "")) if "templates" in document else None,
    )


def _story_window(reader: _Reader, document: dict[str, Any]) -> float:
    table = reader.table(document, "stories")
    reader.unknown_keys(table, _STORIES_KEYS, "stories")
    return reader.duration(table, "window", "stories", 86400.0, 0.0)


def _daemon(reader: _Reader, document: dict[str, Any]) -> DaemonSettings:
    table = reader.table(document, "daemon")
    reader.unknown_keys(table, _DAEMON_KEYS, "daemon")
    health = reader.table(document, "health")
    reader.unknown_keys(health, _HEALTH_KEYS, "health")
    listen = None
    if "listen" in health:
        text = reader.string(health, "listen", "health", "")
        host, _, port = text.strip().rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or int(port) > 65535:
            raise reader.fail("health", "listen", 0, f"not a host:port address: {text!r}", hint='e.g. "127.0.0.1:9464"')
        listen = (host, int(port))
    defaults = DaemonSettings()
    return DaemonSettings(
        watch=reader.duration(table, "watch", "daemon", defaults.watch, 0.0),
        heartbeat=reader.duration(table, "heartbeat", "daemon", defaults.heartbeat, 1.0),
        stop_timeout=reader.duration(table, "stop_timeout", "daemon", defaults.stop_timeout, 1.0),
        send_wait=reader.duration(table, "send_wait", "daemon", defaults.send_wait, 0.1),
        health_listen=listen,
    )


class PlaceholderEnvironment(Mapping[str, str]):
    """An environment in which every ${VAR} is set: for commands that read the configuration and never send
    (`status`, `replay`, `feeds import/export`), so an operator's shell needs none of the daemon's secrets."""

    def __getitem__(self, key: str) -> str:
        return "unset"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


CREDENTIAL_MAX_BYTES = 64 * 1024


def environment() -> dict[str, str]:
    """The variables ${VAR} may name: the process environment, plus systemd credentials for names it lacks.

    Under systemd, `LoadCredential=SMTP_PASSWORD:/etc/monitor/credentials/smtp` puts the secret in the file
    $CREDENTIALS_DIRECTORY/SMTP_PASSWORD, which then answers ${SMTP_PASSWORD} (one trailing newline dropped).
    """
    env = dict(os.environ)
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return env
    try:
        paths = sorted(Path(directory).iterdir())
    except OSError:
        return env
    for credential in paths:
        if credential.name in env or not _ENV_NAME.fullmatch(credential.name):
            continue
        try:
            if credential.is_file() and credential.stat().st_size <= CREDENTIAL_MAX_BYTES:
                value = credential.read_text(encoding="utf-8")
                env[credential.name] = value[:-1] if value.endswith("\n") else value
        except (OSError, UnicodeDecodeError):
            continue
    return env


def _resolve(base: Path, value: str) -> Path:
    """A path from the configuration: ~ expanded, relative paths taken from the config file's directory."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _feeds(reader: _Reader, document: dict[str, Any], interval: float) -> tuple[FeedConfig, ...]:
    feeds: list[FeedConfig] = []
    seen: dict[str, str] = {}
    for index, table in enumerate(reader.array_of_tables(document, "feeds")):
        reader.unknown_keys(table, _FEED_KEYS, "feeds", index)
        url = reader.required_string(table, "url", "feeds", index)
        where = reader.where("feeds", "url", index)
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.netloc)
        except ValueError:  # an unclosed [IPv6 literal
            valid = False
        if not valid:
            raise ConfigError(f"feeds.url: not an http(s) URL: {redact_url(url)!r}", location=where)
        if url in seen:
            raise ConfigError(f"feeds.url: {redact_url(url)} is listed twice (first at {seen[url]})", location=where)
        seen[url] = where
        feeds.append(
            FeedConfig(
                url=url,
                name=reader.string(table, "name", "feeds", feed_display_name(url), index),
                interval=reader.duration(table, "interval", "feeds", interval, 10.0, index),
                enabled=reader.boolean(table, "enabled", "feeds", True, index),
                category=reader.string(table, "category", "feeds", "", index).strip().strip("/"),
                location=where,
            )
        )
    return tuple(feeds)


def _targets(reader: _Reader, document: dict[str, Any], env: Mapping[str, str]) -> tuple[TargetConfig, ...]:
    tables = reader.array_of_tables(document, "targets")
    if not tables:
        return ()
    from monitor.notify import CONSOLE_TARGET, mask_url  # apprise: imported only when there are targets

    targets: list[TargetConfig] = []
    names: set[str] = set()
    for index, table in enumerate(tables):
        reader.unknown_keys(table, _TARGET_KEYS, "targets", index)
        raw_url = reader.required_string(table, "url", "targets", index)
        where = reader.where("targets", "url", index)
        url = expand_env(raw_url, env, where)
        scheme = url.split("://", 1)[0] if "://" in url else ""
        name = reader.string(table, "name", "targets", scheme or f"target{index + 1}", index)
        if name in names or name == CONSOLE_TARGET:
            raise ConfigError(
                f"targets.name: {name!r} is used twice or reserved",
                location=reader.where("targets", "name", index) if "name" in table else where,
                hint="give each target a distinct name = ...",
            )
        names.add(name)
        rules = reader.string_list(table, "rules", "targets", index)
        min_severity = reader.string(table, "min_severity", "targets", "low", index)
        if min_severity not in SEVERITIES:
            raise ConfigError(
                f"targets.min_severity: {min_severity!r} is not one of {', '.join(SEVERITIES)}",
                location=reader.where("targets", "min_severity", index),
            )
        targets.append(
            TargetConfig(
                name=name,
                url=url,
                display=mask_url(url),
                rules=tuple(rules),
                min_severity=min_severity,
                location=where,
                **_delivery_policy(reader, table, index),
            )
        )
    return tuple(targets)


def _delivery_policy(reader: _Reader, table: dict[str, Any], index: int) -> dict[str, Any]:
    """A target's mode, digest schedule, time zone, quiet hours, break-through severity and storm control."""
    from monitor import digest

    def fail(key: str, message: str, hint: str | None = None) -> ConfigError:
        return reader.fail("targets", key, index, message, hint)

    mode = reader.string(table, "mode", "targets", "digest" if "digest" in table else "immediate", index)
    if mode not in ("immediate", "digest"):
        raise fail("mode", f"{mode!r} is not immediate or digest")
    schedule = digest.Schedule()
    if mode == "digest":
        if "digest" not in table:
            raise fail("mode", "a digest target needs digest = ...", hint='e.g. digest = "hourly" or "daily 08:00"')
        try:
            schedule = digest.parse_schedule(reader.string(table, "digest", "targets", "", index))
        except ValueError as error:
            raise fail("digest", str(error)) from None
    elif "digest" in table:
        raise fail("digest", 'only for mode = "digest"', hint='remove it, or set mode = "digest"')
    zone = reader.string(table, "timezone", "targets", "", index)
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(
                "timezone", f"unknown time zone {zone!r}", hint='use an IANA name such as "Asia/Baghdad"'
            ) from None
    quiet = None
    if "quiet_hours" in table:
        try:
            quiet = digest.parse_quiet_hours(reader.string(table, "quiet_hours", "targets", "", index))
        except ValueError as error:
            raise fail("quiet_hours", str(error)) from None
    break_through = reader.string(table, "break_through", "targets", "", index)
    if break_through and break_through not in SEVERITIES:
        raise fail("break_through", f"{break_through!r} is not one of {', '.join(SEVERITIES)}")
    storm = table.get("storm", {})
    if not isinstance(storm, dict):
        raise fail("storm", "must be a table", hint='e.g. storm = { max = 10, window = "1h" }')
    for key in storm:
        if key not in _STORM_KEYS:
            raise fail("storm", f"unknown key {key!r}", hint="storm takes max and window")
    storm_max = storm.get("max", 0)
    if "storm" in table and (isinstance(storm_max, bool) or not isinstance(storm_max, int) or storm_max < 1):
        raise fail("storm", "max must be a whole number >= 1")
    storm_window = parse_duration(storm.get("window", "1h"))
    if storm_window is None or storm_window < 60:
        raise fail("storm", f"window: not a duration of at least 1 minute: {storm.get('window')!r}")
    return {
        "mode": mode,
        "digest_every": schedule.every,
        "digest_times": schedule.times,
        "timezone": zone,
        "quiet_hours": quiet,
        "break_through": break_through,
        "storm_max": storm_max,
        "storm_window": storm_window,
    }


def expand_env(value: str, env: Mapping[str, str], where: str) -> str:
    """Replace each ${VAR} with its value from the environment; a missing variable is a ConfigError."""

    def replace(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in env:
            raise ConfigError(
                f"environment variable ${{{name}}} is not set",
                location=where,
                hint="set it in the service's EnvironmentFile or the shell",
            )
        return env[name]

    return _ENV_VAR.sub(replace, value)


def parse_duration(value: object) -> float | None:
    """Seconds from 90, "90s", "10m", "1h30m", "24h", "7d" or "2w"; None if it is not a duration.

    "0" needs no unit (zero is zero in any): `[stories] window = "0"` turns grouping off, as documented.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(" ", "")
    if not text:
        return None
    if _ZERO.fullmatch(text):
        return 0.0
    position, total = 0, 0.0
    for part in _DURATION.finditer(text):
        if part.start() != position:
            return None
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        position = part.end()
    return total if position == len(text) else None


def parse_size(value: object) -> int | None:
    """Bytes from 1048576, "10MB", "512 KiB"; None if it is not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    found = _SIZE.match(value)
    if not found:
        return None
    return int(float(found.group(1)) * _SIZE_UNITS[(found.group(2) or "b").lower()])


class _Reader:
    """Typed access to TOML values; every failure is a ConfigError naming file, line and key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.lines = TomlLines(text)

    def where(self, table: str | None, key: str | None, index: int = 0) -> str:
        number = self.lines.line_of(table, key, index)
        return f"{self.path}:{number}" if number else str(self.path)

    def fail(self, table: str | None, key: str, index: int, message: str, hint: str | None = None) -> ConfigError:
        dotted = f"{table}.{key}" if table else key
        return ConfigError(f"{dotted}: {message}", location=self.where(table, key, index), hint=hint)

    def unknown_keys(self, table: dict[str, Any], allowed: set[str], name: str | None, index: int = 0) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(name, key, index, "unknown key", hint=f"known keys: {', '.join(sorted(allowed))}")

    def table(self, document: dict[str, Any], key: str) -> dict[str, Any]:
        value = document.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(None, key, 0, f"must be a table ([{key}])")
        return value

    def array_of_tables(self, document: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(None, key, 0, f"must be written as [[{key}]] tables")
        return value

    def string(self, table: dict[str, Any], key: str, name: str | None, default: str, index: int = 0) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(name, key, index, f"must be a string, not {type(value).__name__}")
        return value

    def required_string(self, table: dict[str, Any], key: str, name: str, index: int) -> str:
        if key not in table:
            raise ConfigError(f"{name}: entry number {index + 1} has no {key}", location=self.where(name, None, index))
        value = self.string(table, key, name, "", index).strip()
        if not value:
            raise self.fail(name, key, index, "must not be empty")
        return value

    def string_list(self, table: dict[str, Any], key: str, name: str, index: int) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(name, key, index, "must be a list of strings")
        return value

    def boolean(self, table: dict[str, Any], key: str, name: str | None, default: bool, index: int = 0) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(name, key, index, "must be true or false")
        return value

    def integer(
        self, table: dict[str, Any], key: str, name: str | None, default: int, minimum: int, index: int = 0
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, key, index, f"must be a whole number >= {minimum}")
        return value

    def duration(
        self,
        table: dict[str, Any],
        key: str,
        name: str | None,
        default: float,
        minimum: float,
        index: int = 0,
    ) -> float:
        if key not in table:
            return default
        seconds = parse_duration(table[key])
        if seconds is None:
            raise self.fail(name, key, index, f"not a duration: {table[key]!r}", hint='write e.g. "90s", "10m", "24h"')
        if seconds < minimum:
            raise self.fail(name, key, index, f"must be at least {minimum:g} seconds")
        return seconds

    def size(self, table: dict[str, Any], key: str, name: str | None, default: int, index: int = 0) -> int:
        if key not in table:
            return default
        size = parse_size(table[key])
        if size is None or size <= 0:
            raise self.fail(name, key, index, f"not a size: {table[key]!r}", hint='write e.g. "10MB" or "512KiB"')
        return size
