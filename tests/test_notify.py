"""notify.py: delivery through apprise to a real SMTP server (aiosmtpd) and a real local HTTP endpoint."""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.errors import ConfigError
from monitor.model import Alert, Hit, TargetConfig
from monitor.notify import CONSOLE_TARGET, Notifier, SendResult, mask_url
from monitor.render import Message, render_alert
from tests.faults.harness import FaultySMTP
from tests.hookserver import HookServer
from tests.smtpserver import SMTPServer

SECRET = "Sup3rSecretPw"
TOKEN = "tok3nDeadBeef42"

ALERT = Alert(
    alert_id=1,
    rule="kataib-hezbollah",
    severity="high",
    title="Kata'ib Hizballah claims drone strike & raid",
    link="https://news.example.org/a?id=1&src=rss",
    summary="<p>The group, known as <b>KH</b>, said so.</p>",
    feed_name="Example Wire",
    published=datetime(2026, 11, 24, 19, 5, tzinfo=UTC),
    matched=("Kata'ib Hizballah",),
    hits=(Hit("kataib-hezbollah", "actor", "Kataeb Hezbollah", "title", 0, 17, "Kata'ib Hizballah", 87.0),),
)
MESSAGE = render_alert(ALERT)


def target(name: str, url: str) -> TargetConfig:
    return TargetConfig(name=name, url=url, display=mask_url(url))


@pytest.fixture
def slow_smtp() -> Iterator[FaultySMTP]:
    """An SMTP server on 127.0.0.1 whose answers can be delayed (tests.faults.harness.FaultySMTP)."""
    with FaultySMTP() as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung SMTP server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- email ----------------------------------------------------------------------------------------


def test_email_arrives_with_html_and_plain_text_parts(smtp_server: SMTPServer) -> None:
    """An email alert reaches a real SMTP server as multipart/alternative with the alert in both parts."""
    notifier = Notifier([target("mail", smtp_server.url(to="desk@example.com"))])
    assert notifier.send("mail", MESSAGE) == SendResult(ok=True)
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("desk@example.com",)
    assert mail.message["Subject"] == MESSAGE.title
    assert mail.message.get_content_type() == "multipart/alternative"
    html, plain = mail.part("text/html"), mail.part("text/plain")
    assert html is not None
    assert plain is not None
    assert "<mark>Kata&#x27;ib Hizballah</mark> claims drone strike &amp; raid" in html
    assert 'href="https://news.example.org/a?id=1&amp;src=rss"' in html
    for part in (html, plain):
        assert "kataib-hezbollah" in part
        assert "Kataeb Hezbollah (title, fuzzy 87)" in part
    assert "Kata'ib Hizballah claims drone strike & raid" in plain
    assert "https://news.example.org/a?id=1&src=rss" in plain
    assert "<" not in plain.replace("<https://", "")  # no markup in the text part


def test_email_with_format_text_gets_the_plain_text_body(smtp_server: SMTPServer) -> None:
    """A mailto URL with ?format=text receives monitor's own plain text, not converted HTML."""
    notifier = Notifier([target("mail", smtp_server.url(format="text"))])
    assert notifier.send("mail", MESSAGE).ok
    [mail] = smtp_server.wait_for(1)
    assert mail.message.get_content_type() == "text/plain"
    plain = mail.part("text/plain")
    assert plain is not None
    assert plain.splitlines() == MESSAGE.text.splitlines()


def test_two_sends_to_one_target_are_not_throttled(smtp_server: SMTPServer) -> None:
    """apprise's 5.5 s per-object throttle is off: two emails in a row take well under 2 s."""
    notifier = Notifier([target("mail", smtp_server.url())])
    started = time.monotonic()
    assert notifier.send("mail", MESSAGE).ok
    assert notifier.send("mail", MESSAGE).ok
    assert time.monotonic() - started < 2.0
    assert len(smtp_server.wait_for(2)) == 2


def test_smtp_down_fails_quickly_with_a_masked_error() -> None:
    """With nothing listening, send() returns ok=False within 5 s and the error holds no password."""
    url = f"mailto://monitor:{SECRET}@127.0.0.1:{free_port()}?from=monitor@example.com&to=desk@example.com"
    notifier = Notifier([target("mail", url)])
    started = time.monotonic()
    result = notifier.send("mail", MESSAGE)
    assert time.monotonic() - started < 5.0
    assert not result.ok
    assert result.error
    assert "Connection error" in result.error
    assert SECRET not in result.error
    assert "\n" not in result.error


def test_smtp_down_then_up_on_the_same_port(smtp_server: SMTPServer) -> None:
    """A send fails while the server is down and succeeds once it is back on the same port."""
    notifier = Notifier([target("mail", smtp_server.url())])
    port = smtp_server.port
    smtp_server.stop()
    assert not notifier.send("mail", MESSAGE).ok
    smtp_server.start()
    assert smtp_server.port == port
    assert notifier.send("mail", MESSAGE).ok
    assert len(smtp_server.wait_for(1)) == 1


def test_hung_smtp_server_ends_a_send_by_its_socket_timeout(silent_server: int) -> None:
    """A server that accepts and never answers: the send ends by the plugin's socket timeout (cto), as failed."""
    url = f"mailto://127.0.0.1:{silent_server}?from=monitor@example.com&to=desk@example.com&cto=1"
    notifier = Notifier([target("mail", url)], timeout=0.2)
    started = time.monotonic()
    future = notifier.start_send("mail", MESSAGE)
    with pytest.raises(TimeoutError):
        future.result(timeout=0.2)  # the caller's wait ends; the send itself runs on...
    result = future.result(timeout=5)  # ...until the socket timeout ends it: never abandoned unrecorded
    assert time.monotonic() - started < 4.0
    assert not result.ok
    assert result.error


def test_a_slow_smtp_server_is_waited_for_not_abandoned(slow_smtp: FaultySMTP) -> None:
    """A server slower than the Notifier's timeout still gets one send, reported ok when it confirms."""
    slow_smtp.faults.delay = 1.5
    notifier = Notifier([target("mail", slow_smtp.url(cto="5"))], timeout=0.5)
    result = notifier.start_send("mail", MESSAGE).result(timeout=10)
    assert result.ok, result.error
    assert len(slow_smtp.messages) == 1


def test_failure_reason_survives_a_silenced_apprise_logger() -> None:
    """With the apprise logger at CRITICAL (as the daemon sets it), errors still say why; the level stays."""
    apprise_logger = logging.getLogger("apprise")
    saved = apprise_logger.level, apprise_logger.propagate
    apprise_logger.setLevel(logging.CRITICAL)
    try:
        url = f"mailto://127.0.0.1:{free_port()}?from=monitor@example.com&to=desk@example.com"
        result = Notifier([target("mail", url)]).send("mail", MESSAGE)
        assert result.error
        assert "Connection error" in result.error
        assert (apprise_logger.level, apprise_logger.propagate) == (logging.CRITICAL, saved[1])
    finally:
        apprise_logger.setLevel(saved[0])


# --- json webhook, Slack, console -----------------------------------------------------------------


def test_json_target_posts_title_and_text(hook: HookServer) -> None:
    """A json:// target POSTs the title and the plain-text body to a real local endpoint."""
    notifier = Notifier([target("hook", hook.url("/hook"))])
    assert notifier.send("hook", MESSAGE).ok
    [request] = hook.posts
    payload = request.json()
    assert request.path == "/hook"
    assert payload["title"] == MESSAGE.title
    assert payload["message"] == MESSAGE.text.rstrip("\n")  # apprise trims the trailing newline


def test_json_target_http_500_is_a_masked_failure(hook: HookServer) -> None:
    """An HTTP 500 answer is ok=False; the error names the status and not the Authorization header."""
    hook.status = 500
    url = hook.url("/hook") + f"?+Authorization=Bearer%20{TOKEN}"
    result = Notifier([target("hook", url)]).send("hook", MESSAGE)
    assert not result.ok
    assert result.error
    assert "500" in result.error
    assert TOKEN not in result.error
    assert hook.posts[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_slack_receives_the_markdown_unchanged() -> None:
    """The Slack plugin sends Message.markdown as it is (Block Kit, no second escaping by apprise)."""
    # Slack's endpoint is fixed on the internet, so the payload is captured at the plugin's HTTP call.
    notifier = Notifier([target("slack", f"slack://T1234ABCD/B5678EFGH/{TOKEN}abcdefgh")])
    plugin = notifier._targets["slack"].plugin
    payloads: list[dict[str, Any]] = []

    def capture(url: str, payload: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
        payloads.append(payload)
        return True

    plugin._send = capture
    markdown = "*a &amp; b* <https://x.org/?a=1&amp;b=2|x &lt; y>"
    message = Message(title="t", text="t", html="t", markdown=markdown)
    notifier.send("slack", message)
    [payload] = payloads
    sections = [block for block in payload["attachments"][0]["blocks"] if block["type"] == "section"]
    assert sections == [{"type": "section", "text": {"type": "mrkdwn", "text": message.markdown}}]


def test_console_target_prints_the_text_form() -> None:
    """With no targets, the built-in console target prints the text form and succeeds."""
    out = io.StringIO()
    notifier = Notifier([], console=out)
    assert notifier.target_names == (CONSOLE_TARGET,)
    assert notifier.send(CONSOLE_TARGET, MESSAGE) == SendResult(ok=True)
    assert out.getvalue() == MESSAGE.text + "\n"


def test_unknown_target_is_a_failure_not_an_exception() -> None:
    """Sending to a name that is not configured returns ok=False."""
    result = Notifier([], console=io.StringIO()).send("pager", MESSAGE)
    assert result == SendResult(ok=False, error="unknown target 'pager'")


def test_target_names_keep_configuration_order(hook: HookServer) -> None:
    """target_names lists the configured targets in order (no console when targets exist)."""
    url = hook.url("/")
    notifier = Notifier([target("b", url), target("a", url)])
    assert notifier.target_names == ("b", "a")


def test_unloadable_target_is_a_config_error_without_secret() -> None:
    """A target URL apprise cannot load stops the Notifier with a ConfigError that hides the password."""
    url = f"mailto://user:{SECRET}@127.0.0.1:25?from=not-an-address&to=b@example.com"
    with pytest.raises(ConfigError) as raised:
        Notifier([target("mail", url)])
    assert "'mail'" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_duplicate_target_names_are_a_config_error(hook: HookServer) -> None:
    """Two targets with one name are refused."""
    url = hook.url("/")
    with pytest.raises(ConfigError, match="twice"):
        Notifier([target("hook", url), target("hook", url)])


# --- mask_url and loading target URLs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secrets", "kept"),
    [
        (
            f"mailto://user:{SECRET}@mail.example.com?from=a@example.com&to=b@example.com",
            [SECRET],
            "mail.example",
        ),
        (f"mailtos://user:{SECRET}@smtp.example.com:587?to=b@example.com", [SECRET], "smtp.example.com"),
        (f"slack://T1234ABCD/B5678EFGH/{TOKEN}/#alerts", ["T1234ABCD", "B5678EFGH", TOKEN], "slack://"),
        (f"https://hooks.slack.com/services/T1234ABCD/B5678EFGH/{TOKEN}", ["T1234ABCD", TOKEN], "slack://"),
        (f"json://127.0.0.1:8089/hook?+Authorization=Bearer%20{TOKEN}", [TOKEN], "127.0.0.1:8089"),
        (f"jsons://user:{SECRET}@example.com/hooks/{TOKEN}?-apikey={TOKEN}", [SECRET, TOKEN], "example.com"),
        (
            f"nosuchscheme://user:{SECRET}@host.example/{TOKEN}?token={TOKEN}",
            [SECRET, TOKEN, "host"],
            "nosuchscheme://",
        ),
        (f"slack://{TOKEN}", [TOKEN, TOKEN.lower()], "slack://"),  # not loadable: where a host would be sits a token
        (f"matrix://{TOKEN}", [TOKEN, TOKEN.lower()], "matrix://"),
        (f"json://{TOKEN}@127.0.0.1:8089/hook", [TOKEN], "127.0.0.1:8089"),  # a token as user name
    ],
)
def test_mask_url_hides_passwords_tokens_and_webhook_paths(url: str, secrets: list[str], kept: str) -> None:
    """mask_url hides every secret part of a target URL and keeps enough to recognise it."""
    masked = mask_url(url)
    for secret in secrets:
        assert secret not in masked
    assert kept in masked


@pytest.mark.parametrize("url", ["", "junk", "http://[::1", "mailto://", "\x00\x01", "a" * 5000, "://x", "json://"])
def test_mask_url_never_raises(url: str) -> None:
    """mask_url returns a string for any input, however broken."""
    assert isinstance(mask_url(url), str)


def test_loadable_target_urls_load() -> None:
    """Target URLs apprise can load make a Notifier with those targets."""
    urls = (
        "mailto://127.0.0.1:2525?from=monitor@example.com&to=desk@example.com",
        "slack://T1234ABCD/B5678EFGH/abcdefghijklmnop",
        "json://127.0.0.1:8089/hook",
    )
    notifier = Notifier([target(f"t{index}", url) for index, url in enumerate(urls)])
    assert notifier.target_names == ("t0", "t1", "t2")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "junk",
        "https://example.org/not-a-service",
        f"nosuchscheme://user:{SECRET}@host",
        f"mailto://user:{SECRET}@127.0.0.1:25?from=not-an-address",
    ],
)
def test_unloadable_target_url_is_refused_with_a_one_line_reason(url: str) -> None:
    """Unloadable URLs stop the Notifier with a one-line reason that does not repeat the password."""
    with pytest.raises(ConfigError, match="apprise cannot load") as raised:
        Notifier([target("t", url)])
    reason = raised.value.one_line()
    assert "\n" not in reason
    assert SECRET not in reason


@pytest.mark.parametrize("scheme", ["slack", "msteams", "tgram", "pover", "gotify", "matrix", "rocket"])
def test_unloadable_service_url_made_of_a_token_is_reported_without_it(scheme: str) -> None:
    """A service URL apprise cannot load (a lone token) names the target and scheme, never the token in any case."""
    url = f"{scheme}://{TOKEN}"
    with pytest.raises(ConfigError) as raised:
        Notifier([target("alerts", url)])
    message = raised.value.one_line()
    assert f"target 'alerts': apprise cannot load {scheme}://***" in message
    for text in (message, mask_url(url)):
        assert TOKEN.lower() not in text.lower()
