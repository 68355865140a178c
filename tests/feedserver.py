"""A real HTTP/1.1 feed server on 127.0.0.1 for the tests (no mocks of the network).

    with FeedServer() as server:                       # or the `feed_server` fixture of conftest.py
        server.set_feed("/rss", b"<rss>...</rss>", etag='"v1"', gzip=True)   # conditional GET, gzip
        server.set_feed("/private", body, auth=("alice", "pw"))  # 401 without that Basic authentication
        server.route("/slow", lambda request: Reply(chunks=[b"a", b"b"], chunk_delay=0.5))
        server.redirect("/old", "/rss", status=301)
        url = server.url("/rss")
        ...
        server.requests                            # all requests seen: RecordedRequest(method, path, headers)
        server.spans                               # (start, end) monotonic times of each request handled
        peak_overlap(a.spans + b.spans)            # the most requests in progress at once, across servers

`Reply.chunks` are written one by one, `chunk_delay` seconds before each, with chunked transfer-encoding (or,
with framing="close", without Content-Length and closing the connection at the end). A Content-Length given in
`Reply.headers` is sent as is and the body written raw, so a test can lie about the size. Slow replies wait on
the server's closing event and stop on a client disconnect, so `close()` is quick even with slow handlers.

`silent_server()` listens but never answers; `refused_url()` names a port nobody listens on.
`FeedServer(host="127.0.0.2")` listens on another loopback address: to a client, another host.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal

__all__ = ["FeedServer", "RecordedRequest", "Reply", "peak_overlap", "refused_url", "silent_server"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; header names in lower case (repeated headers joined by ", ")."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    """What a route answers. `delay` waits before the status line; `chunk_delay` before each chunk."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    delay: float = 0.0
    # None: Content-Length for `body`, chunked for `chunks`. "close": no length, the connection ends the body.
    framing: Literal["length", "chunked", "close"] | None = None


Handler = Callable[[RecordedRequest], Reply]


@dataclass
class _Feed:
    body: bytes
    gzipped: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str
    auth: tuple[str, str] | None = None


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (or another loopback `host`; port 0) serving feeds and replies."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._spans: list[tuple[float, float]] = []
        self._connections: set[socket.socket] = set()
        self.errors: list[BaseException] = []  # exceptions raised by route handlers (answered with 500)
        self.closing = threading.Event()
        self._httpd = _Server((host, 0), _RequestHandler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = int(self._httpd.server_address[1])

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> FeedServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; wakes slow handlers and drops open connections, so it returns at once."""
        if self.closing.is_set():
            return
        self.closing.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- what tests use ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def spans(self) -> list[tuple[float, float]]:
        """(start, end) time.monotonic() of every request answered: from its headers read to its reply sent."""
        with self._lock:
            return list(self._spans)

    @property
    def peak_concurrency(self) -> int:
        """The most requests this server had in progress at once."""
        return peak_overlap(self.spans)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for `path` (exact, query string included or not) with `handler(request)`."""
        with self._lock:
            self._routes[path] = handler

    def reply(self, path: str, reply: Reply) -> None:
        """Answer every request for `path` with the same `reply`."""
        self.route(path, lambda _request: reply)

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        """Redirect `path` to `location` (sent as given: relative or absolute)."""
        self.reply(path, Reply(status=status, headers={"Location": location}))

    def set_feed(
        self,
        path: str,
        body: bytes,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str = "application/rss+xml; charset=utf-8",
        gzip: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> None:
        """Serve `body` at `path` with conditional GET (304 when a validator matches); call again to replace.

        With gzip=True the body is gzip-encoded for clients that accept gzip. With `auth` (user, password),
        a request without exactly that Basic authentication gets 401.
        """
        feed = _Feed(
            body=body,
            gzipped=gzip_module.compress(body, mtime=0) if gzip else None,
            etag=etag,
            last_modified=last_modified,
            content_type=content_type,
            auth=auth,
        )
        self.route(path, lambda request: _serve_feed(feed, request))

    def wait(self, seconds: float) -> bool:
        """Sleep in a handler; False when the server is closing (the handler should give up)."""
        return not self.closing.wait(seconds)

    # -- server side ------------------------------------------------------------------------------------

    def _handle(self, handler: _RequestHandler) -> None:
        started = time.monotonic()
        try:
            self._answer(handler)
        finally:
            with self._lock:
                self._spans.append((started, time.monotonic()))

    def _answer(self, handler: _RequestHandler) -> None:
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = RecordedRequest(method=handler.command, path=handler.path, headers=headers)
        length = headers.get("content-length", "0")
        if length.isdigit() and int(length) > 0:
            handler.rfile.read(int(length))
        with self._lock:
            self._requests.append(request)
            route = self._routes.get(request.path) or self._routes.get(request.path.split("?", 1)[0])
        if route is None:
            reply = Reply(status=404, headers={"Content-Type": "text/plain"}, body=b"not found\n")
        else:
            try:
                reply = route(request)
            except Exception as error:
                with self._lock:
                    self.errors.append(error)
                reply = Reply(status=500, headers={"Content-Type": "text/plain"}, body=b"handler failed\n")
        self._send(handler, reply, head=request.method == "HEAD")

    def _send(self, handler: _RequestHandler, reply: Reply, *, head: bool) -> None:
        if reply.delay and not self.wait(reply.delay):
            handler.close_connection = True
            return
        headers = dict(reply.headers)
        names = {name.lower() for name in headers}
        pieces = list(reply.chunks) if reply.chunks is not None else [reply.body]
        no_body = head or reply.status in (204, 304) or reply.status < 200
        raw = "content-length" in names or "transfer-encoding" in names
        framing = reply.framing or ("chunked" if reply.chunks is not None else "length")
        if raw:
            handler.close_connection = True  # the test may lie about the length: never reuse the connection
        elif no_body:
            pass
        elif framing == "length":
            headers["Content-Length"] = str(sum(len(piece) for piece in pieces))
        elif framing == "chunked":
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Connection"] = "close"
        handler.send_response(reply.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if no_body:
            return
        chunked = framing == "chunked" and not raw
        for piece in pieces:
            if reply.chunk_delay and not self.wait(reply.chunk_delay):
                handler.close_connection = True
                return
            if chunked:
                if piece:  # an empty chunk would end the body
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                handler.wfile.write(piece)
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Client disconnects are normal here (timeouts, size caps); keep the test output quiet."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # an idle keep-alive connection's thread gives up after this

    def setup(self) -> None:
        super().setup()
        self.server.owner._opened(self.connection)

    def finish(self) -> None:
        self.server.owner._closed(self.connection)
        with suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request log lines."""

    def _dispatch(self) -> None:
        try:
            self.server.owner._handle(self)
        except OSError:  # the client went away mid-reply (timeout, size cap, cancelled fetch)
            self.close_connection = True

    do_GET = do_HEAD = do_POST = _dispatch


def _serve_feed(feed: _Feed, request: RecordedRequest) -> Reply:
    if feed.auth is not None:
        expected = "Basic " + base64.b64encode(":".join(feed.auth).encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(status=401, headers={"WWW-Authenticate": 'Basic realm="feeds"'}, body=b"who are you?\n")
    validators: dict[str, str] = {}
    if feed.etag:
        validators["ETag"] = feed.etag
    if feed.last_modified:
        validators["Last-Modified"] = feed.last_modified
    if_none_match = request.headers.get("if-none-match")
    if_modified_since = request.headers.get("if-modified-since")
    if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        if feed.etag and _etag_matches(if_none_match, feed.etag):
            return Reply(status=304, headers=validators)
    elif if_modified_since and feed.last_modified and _not_modified_since(feed.last_modified, if_modified_since):
        return Reply(status=304, headers=validators)
    headers = {"Content-Type": feed.content_type, **validators}
    body = feed.body
    if feed.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            body = feed.gzipped
    return Reply(status=200, headers=headers, body=body)


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    wanted = etag.removeprefix("W/")
    candidates = [candidate.strip().removeprefix("W/") for candidate in header.split(",")]
    return "*" in candidates or wanted in candidates


def _not_modified_since(last_modified: str, since: str) -> bool:
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return last_modified == since


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) spans that overlap at one moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


@contextmanager
def silent_server() -> Iterator[str]:
    """A URL whose server accepts connections (the kernel does) but never reads nor answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        yield f"http://127.0.0.1:{port}/feed.xml"
    finally:
        listener.close()


def refused_url() -> str:
    """A URL on a 127.0.0.1 port that was just bound and released, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"
