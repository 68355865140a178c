"""A webhook endpoint on 127.0.0.1 for json:// targets: records every POST, answers with a settable status."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Post:
    """One POST as the endpoint received it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


class _Hook(BaseHTTPRequestHandler):
    server: HookServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.posts.append(Post(self.path, dict(self.headers), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


class HookServer(ThreadingHTTPServer):
    """Use as a context manager (started on enter, stopped on exit); `status` is what every POST gets back."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hook)
        self.posts: list[Post] = []
        self.status = 200
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HookServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/hook") -> str:
        """The json:// target URL of `path` on this endpoint."""
        return f"json://127.0.0.1:{self.port}{path}"

    @property
    def titles(self) -> list[str]:
        with self.lock:
            return [str(post.json()["title"]) for post in self.posts]

    @property
    def messages(self) -> list[str]:
        with self.lock:
            return [str(post.json()["message"]) for post in self.posts]
