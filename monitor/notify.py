"""Deliver rendered alerts through apprise: the only module that imports apprise (last stage of the pipeline).

Thin on purpose: `render` decides what a message says; this module loads each target URL once, picks the
message form the target's plugin wants, sends it and turns apprise's outcome into a `SendResult`. It never
raises for a delivery failure and never logs or returns a secret (errors are scrubbed of every part of the
target URL that `mask_url` hides; the rules of what is secret are monitor.redact's).

What apprise (2.3) is told, and why:
- One `apprise.Apprise` object per target, its plugin instantiated once. The per-object throttle (5.5 s
  between two sends for email and most plugins, 1.2 s for Slack) is switched off with
  `request_rate_per_sec = 0`: monitor must not stall a worker for seconds per alert.
- Email (mailto/mailtos) gets the HTML body; apprise builds multipart/alternative and derives the text/plain
  part from the HTML itself (it cannot take both bodies). A `?format=text` URL gets our own plain text.
- Slack gets `Message.markdown` verbatim. apprise 2.3 rewrites any body it is told is Markdown (it converts
  CommonMark to mrkdwn and escapes `&` a second time), and in its default "legacy" payload it escapes even
  undeclared bodies. The one path that sends mrkdwn unchanged is Block Kit with no declared body format, so
  Slack plugins are switched to Block Kit (`use_blocks`) and sent without a title (a Block Kit header is
  limited to 150 characters; the headline is in the body anyway).
- Everything else gets the plain-text body.
- No abandoned sends: apprise's own `service_timeout` is switched off (0). With it, apprise stops waiting
  for a service and reports TIMEOUT while its worker thread goes on and may still deliver: the alert was then
  recorded failed, retried, and mailed twice. A send here ends when the plugin ends it; the plugin's socket
  timeouts bound each step (email: `socket_connect_timeout`, 15 s, used by smtplib for every socket
  operation, `?cto=` in the URL; HTTP plugins: 4 s connect / 4 s read, `?cto=`/`?rto=`). `start_send` runs a
  send in a daemon thread and returns a future: the caller (monitor.pipeline) waits `timeout` seconds for it,
  then lets it run on, its deliveries claimed, and records its outcome whenever it comes; a process that
  exits meanwhile cuts the send off (a daemon thread never holds up an exit).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TextIO

import apprise
from apprise import AppriseAsset, NotifyFormat

from monitor import jsonout, redact
from monitor.errors import ConfigError
from monitor.model import TargetConfig
from monitor.render import Message

CONSOLE_TARGET = "console"
DEFAULT_TIMEOUT = 30.0
ERROR_MAX = 300


@dataclass(frozen=True)
class SendResult:
    """The outcome of one delivery to one target."""

    ok: bool
    error: str | None = None  # one line, secrets masked


def mask_url(url: str) -> str:
    """`url` safe for logs and output: user-info, tokens, webhook paths and secret parameters masked.

    apprise knows which parts of each service's URL are secret: its `url(privacy=True)` is the starting
    point, and `redact.target_display` hides what it leaves in clear (user names, `+Header=` and `-param=`
    values, generic webhook paths). A URL apprise cannot load shows its scheme only. Never raises.
    """
    try:
        plugin = _instantiate_quietly(url)[0]
        privacy = str(plugin.url(privacy=True)) if plugin is not None else None
    except Exception:  # a display helper must never take the caller down
        privacy = None
    return redact.target_display(url, privacy)


class Notifier:
    """Sends `Message`s to the configured targets, by target name.

    With no targets, a built-in console target named CONSOLE_TARGET writes the text form to `console`
    (default sys.stdout). `timeout` is how long a delivery round waits for one send (module docstring). Sends
    to one target are serialised; sends to different targets may run in parallel threads.
    """

    def __init__(
        self,
        targets: Sequence[TargetConfig],
        *,
        console: TextIO | None = None,
        console_json: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._console = console
        self._console_json = console_json  # one JSON object per alert ({"type": "alert", ...}): run --once --json
        self._timeout = timeout
        self._targets: dict[str, _Target] = {}
        for config in targets:
            if config.name in self._targets:
                raise ConfigError(f"target {config.name!r} is defined twice", hint="rename one of them")
            self._targets[config.name] = _Target.load(config)
        if not targets:
            self._targets[CONSOLE_TARGET] = _Target(CONSOLE_TARGET, None, None, "text", (), threading.Lock())

    @property
    def target_names(self) -> tuple[str, ...]:
        """The names `send()` accepts, in configuration order."""
        return tuple(self._targets)

    @property
    def timeout(self) -> float:
        """Seconds a delivery round waits for one send before letting it run on (see the module docstring)."""
        return self._timeout

    def start_send(self, target: str, message: Message) -> Future[SendResult]:
        """`send` in a daemon thread of its own: the future's result is the SendResult (it never raises)."""
        future: Future[SendResult] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self.send(target, message))
            except BaseException as error:  # send() never raises; if it does, the caller must still learn it
                future.set_result(SendResult(ok=False, error=f"send crashed: {type(error).__name__}"))

        threading.Thread(target=work, name=f"send-{target}", daemon=True).start()
        return future

    def send(self, target: str, message: Message) -> SendResult:
        """Deliver `message` to `target` (blocking). ok only when apprise reports success for it."""
        entry = self._targets.get(target)
        if entry is None:
            return SendResult(ok=False, error=f"unknown target {target!r}")
        with entry.lock:
            if entry.apprise is None:
                return self._print(message)
            return entry.send(message)

    def _print(self, message: Message) -> SendResult:
        stream = self._console if self._console is not None else sys.stdout
        if self._console_json:
            line = json.dumps(jsonout.console_alert(message.title, message.text), ensure_ascii=False)
        else:
            line = message.text
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError) as error:  # closed or broken stream
            return SendResult(ok=False, error=f"console: {error}")
        return SendResult(ok=True)


@dataclass
class _Target:
    """One loaded target: its apprise object and plugin, and how to talk to it."""

    name: str
    apprise: apprise.Apprise | None  # None: the built-in console
    plugin: Any  # the apprise plugin (NotifyBase); Any because apprise's attributes are not all typed
    form: str  # "html", "markdown" or "text": which Message body the plugin gets
    secrets: tuple[str, ...]  # parts of the URL that must never appear in an error
    lock: threading.Lock

    @classmethod
    def load(cls, config: TargetConfig) -> _Target:
        """Instantiate the target's plugin once, tuned for monitor; ConfigError if apprise cannot load it."""
        asset = AppriseAsset(service_timeout=0)  # never abandon a send that may still deliver (module docstring)
        plugin, logged = _instantiate_quietly(config.url, asset)
        secrets = redact.target_secrets(config.url, mask_url(config.url))
        if plugin is None:
            reason = "; ".join(dict.fromkeys(logged)) or "unknown scheme or bad syntax"
            raise ConfigError(
                redact.scrub(f"target {config.name!r}: apprise cannot load {config.display}: {reason}", secrets),
                hint="check the URL against the apprise documentation for the service",
            )
        plugin.request_rate_per_sec = 0  # no 5.5 s sleep between two sends on the same object
        form = _form_for(plugin)
        if form == "markdown":
            plugin.use_blocks = True  # the one apprise Slack payload that keeps our mrkdwn as it is
        return cls(config.name, apprise.Apprise(plugin, asset=asset), plugin, form, secrets, threading.Lock())

    def send(self, message: Message) -> SendResult:
        assert self.apprise is not None
        if self.form == "html":
            body, title, body_format = message.html, message.title, NotifyFormat.HTML
        elif self.form == "markdown":
            body, title, body_format = message.markdown, "", None  # None: apprise passes the body through
        else:
            body, title, body_format = message.text, message.title, NotifyFormat.TEXT
        try:
            with _apprise_logs_kept_private:
                result = self.apprise.notify(body=body, title=title, body_format=body_format)
        except Exception as error:  # apprise raises for inputs it rejects; a send never raises
            return SendResult(ok=False, error=self._one_line(f"apprise rejected the message: {error}"))
        if bool(result):
            return SendResult(ok=True)
        try:
            reason = _failure_reason(result)
        except Exception:  # the reason is a nicety: never let reading it turn a failure into a crash
            reason = "delivery failed"
        return SendResult(ok=False, error=self._one_line(reason))

    def _one_line(self, text: str) -> str:
        text = " ".join(redact.scrub(text, self.secrets).split())
        return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def _form_for(plugin: Any) -> str:
    """The body a plugin gets: "html" for email, "markdown" for Slack, else "text" (see module docstring)."""
    protocols = _protocols(plugin)
    if protocols & {"mailto", "mailtos"}:
        wanted, form = NotifyFormat.HTML, "html"
    elif "slack" in protocols:
        wanted, form = NotifyFormat.MARKDOWN, "markdown"
    else:
        return "text"
    # A URL with ?format=text asks for plain text: honour it.
    return form if plugin.resolve_format(wanted) == wanted else "text"


def _protocols(plugin: Any) -> set[str]:
    names: set[str] = set()
    for value in (plugin.protocol, plugin.secure_protocol):
        if isinstance(value, str):
            names.add(value.lower())
        elif isinstance(value, Iterable):
            names.update(str(v).lower() for v in value)
    return names


def _failure_reason(result: Any) -> str:
    """What apprise said went wrong, from the per-service logs it captured during the call."""
    messages: list[str] = []
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    for service in result:
        messages.extend(entry.message for entry in service.logs())
    messages.extend(entry.message for entry in result.call_logs())
    reason = "; ".join(dict.fromkeys(m.strip() for m in messages if m.strip()))
    if status == "TIMEOUT":
        return f"timed out: {reason}" if reason else "timed out"
    return reason or f"delivery failed (apprise status {status})"


def _instantiate_quietly(url: str, asset: AppriseAsset | None = None) -> tuple[Any, list[str]]:
    """apprise's plugin for `url` (or None) and the warnings/errors apprise logged while trying."""
    capture = _ThreadCapture()
    with _apprise_logs_kept_private:
        _apprise_logger.addHandler(capture)
        try:
            plugin = apprise.Apprise.instantiate(url, asset=asset)
        finally:
            _apprise_logger.removeHandler(capture)
    return plugin, capture.messages


class _ThreadCapture(logging.Handler):
    """Keeps the messages of records logged by the thread that created it (other threads may be sending)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(" ".join(record.getMessage().split()))


class _PrivateAppriseLogs:
    """While entered, apprise creates WARNING records but none of them reaches a handler outside apprise.

    apprise's per-call capture then has a failure reason even when the application silenced the "apprise"
    logger, and the records (which can hold secrets) go nowhere else: `SendResult.error` carries them masked.
    Reference-counted, because sends to different targets run in parallel threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: tuple[int, bool] = (logging.NOTSET, True)
        self._sink = logging.NullHandler()  # with no handler at all, logging would print to stderr instead

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = (_apprise_logger.level, _apprise_logger.propagate)
                if _apprise_logger.getEffectiveLevel() > logging.WARNING:
                    _apprise_logger.setLevel(logging.WARNING)
                _apprise_logger.propagate = False
                _apprise_logger.addHandler(self._sink)
            self._users += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                _apprise_logger.removeHandler(self._sink)
                _apprise_logger.setLevel(self._saved[0])
                _apprise_logger.propagate = self._saved[1]


_apprise_logger = logging.getLogger("apprise")
_apprise_logs_kept_private = _PrivateAppriseLogs()
