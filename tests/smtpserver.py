"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, collecting what it receives.

`SMTPServer` picks a free port on its first start and keeps it, so a test can stop the server ("SMTP down"),
send, and start it again on the same port ("SMTP back up"). The `smtp_server` fixture in conftest.py yields a
started one.

aiosmtpd 1.4.6's Controller cannot start on port 0 by itself: after binding it "triggers" the server by
connecting to `self.port`, which is still 0. `_Controller` reads the bound port first.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server got it: SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes

    def part(self, content_type: str) -> str | None:
        """The decoded text of the first MIME part of `content_type` (e.g. "text/plain"), or None."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return str(part.get_content())
        return None


class _Collector:
    """aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message, raw)
        with self.arrived:
            self.received.append(mail)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Controller that learns its port when asked for port 0 (see the module docstring)."""

    def _trigger_server(self) -> None:
        server: Any = self.server  # an asyncio.Server once bound
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SMTPServer:
    """A restartable SMTP server on 127.0.0.1 that records received mail in `messages`."""

    host = "127.0.0.1"

    def __init__(self, port: int = 0) -> None:
        self._collector = _Collector()
        self._port = port
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        """The bound port (fixed after the first start)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[ReceivedMail]:
        """Everything received so far, across restarts."""
        with self._collector.arrived:
            return list(self._collector.received)

    def start(self) -> None:
        """Start listening (on the same port as before after a stop)."""
        if self._controller is not None:
            return
        controller = _Controller(self._collector, hostname=self.host, port=self._port, ready_timeout=5.0)
        controller.start()
        self._port = controller.port
        self._controller = controller

    def stop(self) -> None:
        """Stop listening; the port stays reserved for `start()` (nothing else should bind it meanwhile)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedMail]:
        """Wait until at least `count` messages arrived (or `timeout` passed); return all received."""
        deadline = time.monotonic() + timeout
        with self._collector.arrived:
            while len(self._collector.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._collector.arrived.wait(remaining)
            return list(self._collector.received)

    def url(self, to: str = "alerts@example.com", sender: str = "monitor@example.com", **params: str) -> str:
        """An apprise mailto:// URL that delivers to this server (plain SMTP, no auth)."""
        query = f"from={quote(sender)}&to={quote(to)}"
        query += "".join(f"&{key}={quote(value)}" for key, value in params.items())
        return f"mailto://{self.host}:{self.port}?{query}"

    def __enter__(self) -> SMTPServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
