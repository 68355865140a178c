"""The one exception tree of monitor; every error carries a hint for the operator.

    MonitorError                  root: message + hint; the CLI turns it into one line and an exit code
    ├── ConfigError               monitor.toml is missing, unreadable or invalid (exit 2)
    ├── RuleError                 a rule file is invalid or a rule can never match (exit 2)
    ├── SourceError               a `monitor match` source could not be read (exit 1)
    ├── StoreError                the database cannot be opened or written (exit 3)
    │   ├── DaemonReplaced        another daemon took over this database while this one was paused (exit 3)
    │   └── DatabaseLostError     its file was deleted or replaced under a running monitor (exit 5)
    └── FetchError                one feed could not be fetched; caught per feed, never fatal

Only `cli.py` decides exit codes (see `exit_code`); other modules raise these and never print.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error monitor raises on purpose.

    `location` names the file (with line and key when known) or the feed the error is about, so the
    one-line message always says where to look.
    """

    exit_code = 1

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def one_line(self) -> str:
        """The message as the operator sees it: `location: message (hint)`."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(MonitorError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2


class RuleError(MonitorError):
    """A rule file is invalid, or a rule in it can never match."""

    exit_code = 2


class SourceError(MonitorError):
    """A source given to `monitor match` (file or URL) could not be read or parsed."""

    exit_code = 1


class StoreError(MonitorError):
    """The SQLite database could not be opened, migrated or written."""

    exit_code = 3


class DaemonReplaced(StoreError):
    """Another daemon took over this database's daemon row: this one must stop (exit 3)."""


class DatabaseLostError(StoreError):
    """The database file or its WAL was deleted or replaced while monitor had it open, or only leftovers of a
    deleted database were found. Restarting cannot fix it (systemd is told not to: RestartPreventExitStatus)."""

    exit_code = 5


class FetchError(MonitorError):
    """One fetch failed. `kind` classifies it for scheduling; never fatal to the daemon.

    kinds: "network" (DNS, refused, reset, TLS), "timeout", "too_large", "http" (4xx/5xx not below),
    "not_found" (404), "gone" (410: the feed is disabled), "rate_limited" (429/503, see `retry_after`),
    "redirect" (loop, too many, or to a non-HTTP scheme), "not_a_feed" (parse found no feed).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        location: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.kind = kind
        self.status_code = status_code
        self.retry_after = retry_after


EXIT_RULE_EXAMPLES = 4
EXIT_DATABASE_LOST = 5
EXIT_UNDELIVERED = 6  # run --once: alerts a target did not take (they stay queued, or are dead)
