"""Hostile servers for the fault-injection suite: each case installs a behaviour on a real 127.0.0.1 server.

A `ServerCase` names a misbehaviour (time, size, HTTP, content) and the outcome `monitor run --once` must report
for it: the FetchError kind of a failed poll ("timeout", "too_large", "network", "http", "rate_limited",
"redirect", "not_a_feed") or "alert" when the feed must still be parsed and its marked entry alerted.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tests.faults.bodies import item_xml, relevant, rss_text, simple_feed
from tests.feedserver import FeedServer, RecordedRequest, Reply, refused_url, silent_server

RSS = "application/rss+xml; charset=utf-8"
MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerCase:
    """One hostile server behaviour: `install` returns the feed URL to poll."""

    name: str
    category: str
    install: Callable[[FeedServer, ExitStack], str]
    expect: str  # a FetchError kind, or "alert"
    note: str = ""

    @property
    def marker(self) -> str:
        """The text that identifies this case's relevant entry, when it has one."""
        return f"[{self.name}]"


def _reply(path: str, reply: Reply) -> Callable[[FeedServer, ExitStack], str]:
    def install(server: FeedServer, stack: ExitStack) -> str:
        server.reply(path, reply)
        return server.url(path)

    return install


def _feed(marker: str) -> bytes:
    return simple_feed(marker).encode()


# -- time ------------------------------------------------------------------------------------------------------


def trickle() -> Reply:
    """Headers at once, then one byte a second, forever (a day of bytes)."""
    return Reply(headers={"Content-Type": RSS}, chunks=[b"<"] + [b" "] * 86_400, chunk_delay=1.0)


def never_answers() -> Reply:
    """Reads the request, then says nothing for an hour."""
    return Reply(headers={"Content-Type": RSS}, body=b"<rss/>", delay=3600.0)


def _silent(server: FeedServer, stack: ExitStack) -> str:
    return stack.enter_context(silent_server())


def _never_accepts(server: FeedServer, stack: ExitStack) -> str:
    return stack.enter_context(never_accepting_server())


@contextmanager
def never_accepting_server() -> Iterator[str]:
    """A URL whose TCP handshake never completes: the listen backlog is full and nobody accepts."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, InterruptedError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}/feed.xml"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _dns_fails(server: FeedServer, stack: ExitStack) -> str:
    # A 64-character label is not a valid DNS name: the resolver fails without sending a query anywhere.
    return f"http://{'a' * 64}.monitor-test.invalid/feed.xml"


def _refused(server: FeedServer, stack: ExitStack) -> str:
    return refused_url()


# -- size ------------------------------------------------------------------------------------------------------


def endless_body() -> Reply:
    """200 MB without Content-Length (the connection's end would end it)."""
    block = b"<item><title>padding</title></item>".ljust(MIB, b" ")
    prefix = b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
    return Reply(headers={"Content-Type": RSS}, chunks=[prefix] + [block] * 200, framing="close")


@functools.cache
def gzip_bomb_chunks(gibibytes: int = 1) -> list[bytes]:
    """A valid gzip stream of `gibibytes` GiB of spaces inside a feed, about 1 MB per GiB on the wire.

    Built from one full-flushed deflate block of 1 MiB of spaces repeated (a full flush resets the window, so
    every copy is the same bytes), with the real CRC and size in the trailer.
    """
    plain = b" " * MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(plain) + compressor.flush(zlib.Z_FULL_FLUSH)
    prefix_plain = b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
    prefix_compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    prefix = prefix_compressor.compress(prefix_plain) + prefix_compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15)
    end = final.compress(b"") + final.flush(zlib.Z_FINISH)
    count = gibibytes * 1024
    crc = zlib.crc32(prefix_plain)
    for _ in range(count):
        crc = zlib.crc32(plain, crc)
    size = len(prefix_plain) + count * MIB
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
    return [header + prefix, *itertools.repeat(block, count), end + trailer]


def gzip_bomb() -> Reply:
    """Content-Encoding gzip: about 1 MB on the wire, 1 GiB inflated."""
    return Reply(headers={"Content-Type": RSS, "Content-Encoding": "gzip"}, chunks=gzip_bomb_chunks())


def lying_length() -> Reply:
    """Announces 200 MB with Content-Length (refused before reading a byte)."""
    return Reply(headers={"Content-Type": RSS, "Content-Length": str(200 * MIB)}, body=b"<rss>")


def huge_headers() -> Reply:
    """200 KB of response headers."""
    return Reply(headers={"Content-Type": RSS, **{f"X-Junk-{n}": "j" * 1000 for n in range(200)}}, body=b"<rss/>")


# -- HTTP ------------------------------------------------------------------------------------------------------


def _http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta, usegmt=True)


def _redirect_loop(server: FeedServer, stack: ExitStack) -> str:
    server.redirect("/loop-a.xml", "/loop-b.xml", status=302)
    server.redirect("/loop-b.xml", "/loop-a.xml", status=302)
    return server.url("/loop-a.xml")


def _redirect_chain(server: FeedServer, stack: ExitStack) -> str:
    for hop in range(8):
        server.redirect(f"/hop-{hop}.xml", f"/hop-{hop + 1}.xml", status=307)
    server.set_feed("/hop-8.xml", _feed("[redirect-chain]"))
    return server.url("/hop-0.xml")


def _redirect_ok(server: FeedServer, stack: ExitStack) -> str:
    server.redirect("/moved.xml", "/moved-here.xml", status=301)
    server.set_feed("/moved-here.xml", _feed("[redirect-ok]"))
    return server.url("/moved.xml")


def _tls_error(server: FeedServer, stack: ExitStack) -> str:
    server.set_feed("/tls.xml", _feed("[tls-error]"))
    return server.url("/tls.xml").replace("http://", "https://")


def _not_http(server: FeedServer, stack: ExitStack) -> str:
    """A server that answers every connection with an SMTP-like banner instead of HTTP."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with connection, contextlib.suppress(OSError):
                connection.sendall(b"220 mail.example.org ESMTP ready\r\n" * 3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=2)
        listener.close()

    stack.callback(close)
    return f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"


def _changing_guid(server: FeedServer, stack: ExitStack) -> str:
    """A feed whose item gets a new guid on every request while its link stays."""
    counter = itertools.count()

    def handler(request: RecordedRequest) -> Reply:
        marker = "[changing-guid]"
        body = rss_text(
            [item_xml(relevant(marker), guid=f"urn:random:{next(counter)}", link="https://news.example.org/stable")]
        )
        return Reply(headers={"Content-Type": RSS}, body=body.encode())

    server.route("/changing.xml", handler)
    return server.url("/changing.xml")


SERVER_CASES: tuple[ServerCase, ...] = (
    ServerCase("trickle", "time", _reply("/trickle.xml", trickle()), "timeout", "one byte a second, forever"),
    ServerCase("never-answers", "time", _reply("/mute.xml", never_answers()), "timeout", "reads, never replies"),
    ServerCase("accepts-never-reads", "time", _silent, "timeout", "kernel accepts, nobody reads"),
    ServerCase("never-accepts", "time", _never_accepts, "timeout", "handshake never completes"),
    ServerCase("dns-fails", "time", _dns_fails, "network", "name cannot resolve"),
    ServerCase("refused", "time", _refused, "network", "nobody listens"),
    ServerCase("endless-body", "size", _reply("/endless.xml", endless_body()), "too_large", "200 MB, no length"),
    ServerCase("gzip-bomb", "size", _reply("/bomb.xml", gzip_bomb()), "too_large", "1 MB wire, 1 GiB inflated"),
    ServerCase("lying-length", "size", _reply("/lying.xml", lying_length()), "too_large", "Content-Length 200 MB"),
    ServerCase("huge-headers", "size", _reply("/headers.xml", huge_headers()), "network", "200 KB of headers"),
    ServerCase("http-500", "http", _reply("/500.xml", Reply(status=500, body=b"boom")), "http"),
    ServerCase(
        "429-retry-seconds",
        "http",
        _reply("/429.xml", Reply(status=429, headers={"Retry-After": "120"})),
        "rate_limited",
    ),
    ServerCase(
        "503-retry-date",
        "http",
        _reply("/503.xml", Reply(status=503, headers={"Retry-After": _http_date(timedelta(hours=1))})),
        "rate_limited",
    ),
    ServerCase(
        "503-retry-garbage",
        "http",
        _reply("/503g.xml", Reply(status=503, headers={"Retry-After": "soon, maybe"})),
        "rate_limited",
    ),
    ServerCase("redirect-loop", "http", _redirect_loop, "redirect"),
    ServerCase("redirect-chain", "http", _redirect_chain, "redirect", "8 hops, limit 5"),
    ServerCase(
        "redirect-file",
        "http",
        _reply("/to-file.xml", Reply(status=302, headers={"Location": "file:///etc/passwd"})),
        "redirect",
    ),
    ServerCase(
        "redirect-javascript",
        "http",
        _reply("/to-js.xml", Reply(status=301, headers={"Location": "javascript:alert(1)"})),
        "redirect",
    ),
    ServerCase("redirect-ok", "http", _redirect_ok, "alert", "one 301 to the real feed"),
    ServerCase("304-no-validators", "http", _reply("/304.xml", Reply(status=304)), "http"),
    ServerCase(
        "content-type-html",
        "http",
        _reply("/as-html.xml", Reply(headers={"Content-Type": "text/html"}, body=_feed("[content-type-html]"))),
        "alert",
    ),
    ServerCase(
        "content-type-missing", "http", _reply("/no-type.xml", Reply(body=_feed("[content-type-missing]"))), "alert"
    ),
    ServerCase(
        "content-type-octets",
        "http",
        _reply(
            "/octets.xml",
            Reply(headers={"Content-Type": "application/octet-stream"}, body=_feed("[content-type-octets]")),
        ),
        "alert",
    ),
    ServerCase(
        "charset-header-utf16",
        "http",
        _reply(
            "/charset16.xml",
            Reply(headers={"Content-Type": "text/xml; charset=utf-16"}, body=_feed("[charset-header-utf16]")),
        ),
        "alert",
        "header says UTF-16, bytes are UTF-8",
    ),
    ServerCase("tls-error", "http", _tls_error, "network", "https to a plain-HTTP port"),
    ServerCase("not-http", "http", _not_http, "network", "an SMTP banner instead of HTTP"),
    ServerCase("changing-guid", "content", _changing_guid, "alert", "new guid every fetch, same link"),
)
