"""The data that flows between pipeline stages: frozen dataclasses, no behaviour, no I/O.

fetch -> parse produces `Entry`; match turns an `Entry` into `Match`es made of `Hit`s; store keeps `FeedState`
and turns matches into `Alert`s; notify renders and delivers `Alert`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor import __version__

USER_AGENT = f"monitor/{__version__} (+https://github.com/monitor-rss/monitor)"


@dataclass(frozen=True)
class FetchSettings:
    """How patient and trusting a fetch is. `deadline` bounds the whole fetch, redirects and body included."""

    timeout_connect: float = 10.0
    timeout_read: float = 20.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    # Open connections at most, idle ones included (kept alive between polls of the same host).
    max_connections: int = 100
    # Honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY and SSL_CERT_FILE / SSL_CERT_DIR from the environment (read
    # once, when the session opens).
    trust_env: bool = True

    def __post_init__(self) -> None:
        for name in ("timeout_connect", "timeout_read", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchSettings.{name} must be > 0")
        if self.max_bytes < 1:
            raise ValueError("FetchSettings.max_bytes must be >= 1")
        if self.max_redirects < 0:
            raise ValueError("FetchSettings.max_redirects must be >= 0")
        if self.max_connections < 1:
            raise ValueError("FetchSettings.max_connections must be >= 1")


SEVERITIES = ("low", "medium", "high", "critical")
"""Severity names, least to most urgent; `severity_rank` orders them."""


def severity_rank(severity: str) -> int:
    """Position of `severity` in SEVERITIES (unknown names rank lowest)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True)
class FeedConfig:
    """One `[[feeds]]` entry of the configuration. `url` is the configured URL and the feed's key."""

    url: str
    name: str
    interval: float  # seconds between polls
    enabled: bool = True
    location: str = ""  # "monitor.toml:12", for error messages
    category: str = ""  # folder path for OPML, "News/Iraq" ("/" separates nested folders); "" = none


@dataclass(frozen=True)
class TargetConfig:
    """One `[[targets]]` entry. `url` holds secrets after ${VAR} expansion: never log it, use `display`."""

    name: str
    url: str
    display: str  # the URL with secrets masked, safe for logs and output
    rules: tuple[str, ...] = ()  # empty: every rule
    min_severity: str = "low"
    location: str = ""  # "monitor.toml:30", for error messages
    # How alerts are delivered (monitor.digest.Policy; docs/configuration.md):
    mode: str = "immediate"  # "immediate" or "digest"
    digest_every: float = 0.0  # digest mode: seconds between digests, aligned on local midnight...
    digest_times: tuple[int, ...] = ()  # ...or minutes after local midnight ("daily 08:00")
    timezone: str = ""  # IANA zone of the target's schedule, quiet hours and shown times; "" = top-level
    quiet_hours: tuple[int, int] | None = None  # (start, end) minutes after local midnight
    break_through: str = ""  # this severity and above skip digests and quiet hours; "" = none
    storm_max: int = 0  # storm control: alerts of one rule sent alone per window; 0 = off
    storm_window: float = 3600.0


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about a feed between polls (HTTP validators, health, schedule)."""

    feed_id: int
    config_url: str  # the URL in the configuration (the key)
    url: str  # the URL to fetch: differs from config_url after a permanent redirect
    name: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_count: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_success: datetime | None = None
    next_check: datetime | None = None
    disabled: bool = False
    entries_seen: int | None = None  # entries stored for the feed; None when not counted
    last_polled: datetime | None = None
    removed: bool = False  # no longer in the configuration (kept for history)


@dataclass(frozen=True)
class Entry:
    """One feed item as parsed, with a stable id (guid, else link, else a hash of title and content)."""

    entry_id: str
    title: str
    link: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None  # timezone-aware UTC, None when the feed gives no usable date
    author: str = ""
    feed_title: str = ""


ENTRY_FIELDS = ("title", "summary", "content")
"""The entry fields the matcher searches, in the order matches are reported."""


@dataclass(frozen=True)
class Hit:
    """One term found in one field: which alias matched, where, and how well.

    `start`/`end` are character offsets into the text the matcher searched: the title as given, the summary or
    content after `normalize.strip_html` (tags stripped, entities decoded); `text` is that slice.
    `score` is 100 for an exact (normalised) match, lower for a fuzzy one.
    """

    term: str  # the actor or theme id, e.g. "kataib-hezbollah"
    kind: str  # "actor" or "theme"
    alias: str  # the alias or phrase as written in the rule file
    field: str  # "title", "summary" or "content"
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Match:
    """A rule that fired on an entry, with the hits that made it fire."""

    rule: str
    severity: str
    score: float  # the weakest hit score among those the rule needed
    hits: tuple[Hit, ...]
    targets: tuple[str, ...] = ()  # target names the rule goes to; empty: all targets

    @property
    def matched(self) -> list[str]:
        """The distinct surface texts that matched, in order of appearance."""
        return list(dict.fromkeys(hit.text for hit in self.hits))


@dataclass(frozen=True)
class Alert:
    """A match of a stored entry, ready to render: what an analyst reads."""

    alert_id: int
    rule: str
    severity: str
    title: str
    link: str
    summary: str
    feed_name: str
    published: datetime | None
    matched: tuple[str, ...]
    hits: tuple[Hit, ...] = field(default=())
    created_at: datetime | None = None
    story_id: int | None = None  # the story the entry belongs to (monitor.stories), None when not grouped
    also_reported: tuple[StoryReport, ...] = ()  # other outlets' reports of the same story
    update: bool = False  # this rule already alerted on the story: a later report (rule with updates = true)


@dataclass(frozen=True)
class StoryReport:
    """Another outlet's report of an alert's story ("also reported by ...")."""

    source: str  # the feed's name
    title: str
    link: str
    published: datetime | None = None
