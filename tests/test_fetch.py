"""fetch.py against a real HTTP/1.1 server on 127.0.0.1: conditional GET, redirects, statuses, caps, timeouts.

An injected resolver stands in for DNS where a test needs a name (failing, or mapped to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gzip
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
import trustme
from aiohttp.abc import AbstractResolver, ResolveResult

from monitor import __version__
from monitor.errors import FetchError
from monitor.fetch import (
    ACCEPT,
    MAX_RETRY_AFTER,
    Fetcher,
    FetchResult,
    FetchSettings,
    parse_retry_after,
)
from tests.feedserver import FeedServer, RecordedRequest, Reply, refused_url, silent_server

T = TypeVar("T")

SETTINGS = FetchSettings(timeout_connect=2.0, timeout_read=2.0, deadline=5.0, trust_env=False)
ETAG = '"v1-abc"'
LAST_MODIFIED = "Mon, 23 Nov 2026 10:00:00 GMT"
FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Test Wire</title>'
    + b"".join(
        b"<item><title>Item %d about the Popular Mobilization Forces</title><guid>id-%d</guid></item>" % (i, i)
        for i in range(40)
    )
    + b"</channel></rss>\n"
)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def fetch(url: str, settings: FetchSettings = SETTINGS, **kwargs: Any) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return run(go())


def fetch_error(url: str, settings: FetchSettings = SETTINGS, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, settings, **kwargs)
    return info.value


def timed_error(url: str, settings: FetchSettings = SETTINGS, **kwargs: Any) -> tuple[FetchError, float]:
    started = time.monotonic()
    error = fetch_error(url, settings, **kwargs)
    return error, time.monotonic() - started


@functools.cache
def gzip_bomb(megabytes: int) -> bytes:
    """`megabytes` MB of zeros, gzip-compressed (about 1000:1) without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    parts = [compressor.compress(zeros) for _ in range(megabytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- 200 and request headers ---------------------------------------------------------------------------


def test_ok_returns_body_headers_and_validators(feed_server: FeedServer) -> None:
    """A 200 gives status ok, the body, lower-case headers, ETag/Last-Modified and no permanent URL."""
    feed_server.reply(
        "/feed.xml",
        Reply(
            headers={
                "Content-Type": "application/rss+xml",
                "ETag": ETAG,
                "Last-Modified": LAST_MODIFIED,
                "X-Feed-Id": "42",
            },
            body=FEED,
        ),
    )
    result = fetch(feed_server.url("/feed.xml"))
    assert result.status == "ok"
    assert result.status_code == 200
    assert result.body == FEED
    assert result.url == feed_server.url("/feed.xml")
    assert result.permanent_url is None
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)
    assert result.headers["x-feed-id"] == "42"
    assert result.headers["content-type"] == "application/rss+xml"
    assert all(name == name.lower() for name in result.headers)
    assert 0 < result.elapsed < 5


def test_request_headers_name_monitor_and_feed_types(feed_server: FeedServer) -> None:
    """The request has a User-Agent naming monitor, a feed Accept, gzip/deflate only, and no validators."""
    feed_server.set_feed("/feed.xml", FEED)
    fetch(feed_server.url("/feed.xml"))
    [request] = feed_server.requests
    assert request.method == "GET"
    assert request.headers["user-agent"].startswith(f"monitor/{__version__} ")
    assert request.headers["accept"] == ACCEPT
    assert "application/rss+xml" in request.headers["accept"]
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers


def test_custom_user_agent_is_sent(feed_server: FeedServer) -> None:
    """FetchSettings.user_agent replaces the default User-Agent."""
    feed_server.set_feed("/feed.xml", FEED)
    fetch(feed_server.url("/feed.xml"), FetchSettings(user_agent="monitor-test/1", trust_env=False))
    assert feed_server.requests[0].headers["user-agent"] == "monitor-test/1"


# -- conditional GET -----------------------------------------------------------------------------------


def test_conditional_get_sends_validators_and_gets_not_modified(feed_server: FeedServer) -> None:
    """With ETag and Last-Modified given, both are sent and a 304 gives not_modified with an empty body."""
    feed_server.set_feed("/feed.xml", FEED, etag=ETAG, last_modified=LAST_MODIFIED)
    result = fetch(feed_server.url("/feed.xml"), etag=ETAG, last_modified=LAST_MODIFIED)
    [request] = feed_server.requests
    assert request.headers["if-none-match"] == ETAG
    assert request.headers["if-modified-since"] == LAST_MODIFIED
    assert result.status == "not_modified"
    assert result.status_code == 304
    assert result.body == b""
    assert (result.etag, result.last_modified) == (ETAG, LAST_MODIFIED)


def test_if_modified_since_alone_gets_not_modified(feed_server: FeedServer) -> None:
    """Last-Modified alone is enough for a 304 from a server that has no ETag."""
    feed_server.set_feed("/feed.xml", FEED, last_modified=LAST_MODIFIED)
    result = fetch(feed_server.url("/feed.xml"), last_modified=LAST_MODIFIED)
    assert result.status == "not_modified"
    assert "if-none-match" not in feed_server.requests[0].headers


def test_changed_feed_returns_new_body_and_etag(feed_server: FeedServer) -> None:
    """After the feed changes, the old ETag no longer matches: 200 with the new body and the new ETag."""
    feed_server.set_feed("/feed.xml", FEED, etag=ETAG)
    assert fetch(feed_server.url("/feed.xml"), etag=ETAG).status == "not_modified"
    feed_server.set_feed("/feed.xml", FEED + b"<!-- v2 -->", etag='"v2"')
    result = fetch(feed_server.url("/feed.xml"), etag=ETAG)
    assert result.status == "ok"
    assert result.body.endswith(b"<!-- v2 -->")
    assert result.etag == '"v2"'


def test_not_modified_without_repeated_validators_keeps_the_sent_ones(feed_server: FeedServer) -> None:
    """A bare 304 (no ETag header) reports the validators that were sent, so the caller can store them."""
    feed_server.reply("/feed.xml", Reply(status=304))
    result = fetch(feed_server.url("/feed.xml"), etag=ETAG, last_modified=LAST_MODIFIED)
    assert (result.status, result.etag, result.last_modified) == ("not_modified", ETAG, LAST_MODIFIED)


def test_304_without_validators_is_an_http_error(feed_server: FeedServer) -> None:
    """A 304 to a request that sent no validators is an error of kind http."""
    feed_server.reply("/feed.xml", Reply(status=304))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert (error.kind, error.status_code) == ("http", 304)


# -- redirects -----------------------------------------------------------------------------------------


def test_301_reports_permanent_url(feed_server: FeedServer) -> None:
    """A 301 is followed and its target becomes permanent_url."""
    feed_server.redirect("/old.xml", feed_server.url("/feed.xml"), status=301)
    feed_server.set_feed("/feed.xml", FEED)
    result = fetch(feed_server.url("/old.xml"))
    assert result.body == FEED
    assert result.url == result.permanent_url == feed_server.url("/feed.xml")
    assert [request.path for request in feed_server.requests] == ["/old.xml", "/feed.xml"]


def test_302_is_followed_but_not_permanent(feed_server: FeedServer) -> None:
    """A 302 is followed; the stored URL must not change, so permanent_url is None."""
    feed_server.redirect("/old.xml", "/feed.xml", status=302)
    feed_server.set_feed("/feed.xml", FEED)
    result = fetch(feed_server.url("/old.xml"))
    assert result.url == feed_server.url("/feed.xml")
    assert result.permanent_url is None


def test_chain_of_308_and_301_is_permanent(feed_server: FeedServer) -> None:
    """A chain made only of 308 and 301 hops reports the final URL as permanent."""
    feed_server.redirect("/a", "/b", status=308)
    feed_server.redirect("/b", "/feed.xml", status=301)
    feed_server.set_feed("/feed.xml", FEED)
    result = fetch(feed_server.url("/a"))
    assert result.permanent_url == feed_server.url("/feed.xml")


@pytest.mark.parametrize("temporary", [302, 303, 307])
def test_one_temporary_hop_makes_the_chain_temporary(feed_server: FeedServer, temporary: int) -> None:
    """Any 302/303/307 in a chain of otherwise permanent hops gives permanent_url None."""
    feed_server.redirect("/a", "/b", status=301)
    feed_server.redirect("/b", "/c", status=temporary)
    feed_server.redirect("/c", "/feed.xml", status=308)
    feed_server.set_feed("/feed.xml", FEED)
    result = fetch(feed_server.url("/a"))
    assert result.url == feed_server.url("/feed.xml")
    assert result.permanent_url is None


def test_relative_location_is_resolved(feed_server: FeedServer) -> None:
    """Relative Location headers resolve against the URL that sent them."""
    feed_server.redirect("/dir/old.xml", "new/../feed.xml", status=301)
    feed_server.redirect("/dir/feed.xml", f"//127.0.0.1:{feed_server.port}/final.xml", status=301)
    feed_server.set_feed("/final.xml", FEED)
    result = fetch(feed_server.url("/dir/old.xml"))
    assert result.permanent_url == feed_server.url("/final.xml")
    assert [r.path for r in feed_server.requests] == ["/dir/old.xml", "/dir/feed.xml", "/final.xml"]


def test_validators_follow_redirects(feed_server: FeedServer) -> None:
    """Conditional headers are sent to the redirect target too: 304 after a 301 keeps permanent_url."""
    feed_server.redirect("/old.xml", "/feed.xml", status=301)
    feed_server.set_feed("/feed.xml", FEED, etag=ETAG)
    result = fetch(feed_server.url("/old.xml"), etag=ETAG)
    assert result.status == "not_modified"
    assert result.permanent_url == feed_server.url("/feed.xml")


def test_redirect_loop_is_detected(feed_server: FeedServer) -> None:
    """A -> B -> A fails at once with kind redirect instead of using up the hop budget."""
    feed_server.redirect("/a", "/b", status=302)
    feed_server.redirect("/b", "/a", status=302)
    error = fetch_error(feed_server.url("/a"))
    assert error.kind == "redirect"
    assert "loop" in error.message
    assert len(feed_server.requests) == 2


def test_too_many_redirects(feed_server: FeedServer) -> None:
    """More hops than max_redirects is an error of kind redirect."""
    for hop in range(7):
        feed_server.redirect(f"/hop{hop}", f"/hop{hop + 1}", status=301)
    settings = FetchSettings(max_redirects=3, trust_env=False)
    error = fetch_error(feed_server.url("/hop0"), settings)
    assert error.kind == "redirect"
    assert "more than 3 redirects" in error.message
    assert len(feed_server.requests) == 4


@pytest.mark.parametrize("target", ["ftp://example.org/feed.xml", "file:///etc/passwd", "javascript:alert(1)"])
def test_redirect_to_non_http_scheme_is_refused(feed_server: FeedServer, target: str) -> None:
    """A redirect to ftp://, file:// or another non-HTTP scheme is refused with kind redirect."""
    feed_server.redirect("/feed.xml", target, status=301)
    error = fetch_error(feed_server.url("/feed.xml"))
    assert error.kind == "redirect"
    assert "non-HTTP" in error.message
    assert len(feed_server.requests) == 1


def test_redirect_without_location(feed_server: FeedServer) -> None:
    """A 3xx redirect status without a Location header is an error of kind redirect."""
    feed_server.reply("/feed.xml", Reply(status=302))
    assert fetch_error(feed_server.url("/feed.xml")).kind == "redirect"


# -- status handling -----------------------------------------------------------------------------------


def test_404_is_not_found(feed_server: FeedServer) -> None:
    """A 404 is kind not_found with status_code 404."""
    error = fetch_error(feed_server.url("/missing.xml"))
    assert (error.kind, error.status_code) == ("not_found", 404)


def test_410_is_gone(feed_server: FeedServer) -> None:
    """A 410 is kind gone, with a hint to remove the feed."""
    feed_server.reply("/feed.xml", Reply(status=410))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert (error.kind, error.status_code) == ("gone", 410)
    assert error.hint


def test_429_with_retry_after_seconds(feed_server: FeedServer) -> None:
    """A 429 is kind rate_limited with retry_after taken from Retry-After delta-seconds."""
    feed_server.reply("/feed.xml", Reply(status=429, headers={"Retry-After": "120"}))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert (error.kind, error.status_code, error.retry_after) == ("rate_limited", 429, 120.0)


def test_503_with_retry_after_http_date(feed_server: FeedServer) -> None:
    """A 503 is kind rate_limited with retry_after computed from a Retry-After HTTP-date."""
    when = datetime.now(UTC) + timedelta(seconds=90)
    feed_server.reply("/feed.xml", Reply(status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert (error.kind, error.status_code) == ("rate_limited", 503)
    assert error.retry_after is not None
    assert 80 <= error.retry_after <= 91


def test_503_without_retry_after(feed_server: FeedServer) -> None:
    """A 503 without Retry-After is still rate_limited, with retry_after None."""
    feed_server.reply("/feed.xml", Reply(status=503))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert (error.kind, error.retry_after) == ("rate_limited", None)


@pytest.mark.parametrize("status", [400, 401, 403, 500, 502])
def test_other_error_statuses_are_http(feed_server: FeedServer, status: int) -> None:
    """Other 4xx/5xx statuses are kind http carrying the status code."""
    feed_server.reply("/feed.xml", Reply(status=status, body=b"nope"))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert (error.kind, error.status_code) == ("http", status)
    assert str(status) in error.message


NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("  45 ", 45.0),
        ("1.5", 1.5),
        ("Tue, 24 Nov 2026 12:01:30 GMT", 90.0),
        ("Tuesday, 24-Nov-26 12:01:30 GMT", 90.0),
        ("Tue Nov 24 12:01:30 2026", 90.0),
        ("Tue, 24 Nov 2026 11:00:00 GMT", 0.0),
        ("99999999999", MAX_RETRY_AFTER),
        ("9" * 5000, MAX_RETRY_AFTER),
        ("Fri, 01 Jan 2100 00:00:00 GMT", MAX_RETRY_AFTER),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("-5", None),
        ("١٢٠", None),
        ("12 apples", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    """Retry-After: delta-seconds and the three HTTP-date forms; past -> 0, absurd -> capped, junk -> None."""
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_naive_now_is_utc() -> None:
    """A naive `now` is taken as UTC."""
    assert parse_retry_after("Tue, 24 Nov 2026 12:01:30 GMT", NOW.replace(tzinfo=None)) == 90.0


# -- body cap and content encodings --------------------------------------------------------------------


def test_content_length_over_cap_fails_before_reading(feed_server: FeedServer) -> None:
    """A Content-Length above max_bytes fails at once, without waiting for the (slow) body."""
    feed_server.reply(
        "/feed.xml", Reply(headers={"Content-Length": str(50_000_000)}, chunks=[b"<rss>"], chunk_delay=3.0)
    )
    error, elapsed = timed_error(feed_server.url("/feed.xml"), FetchSettings(max_bytes=1 << 20, trust_env=False))
    assert error.kind == "too_large"
    assert "50000000" in error.message
    assert elapsed < 1.5


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_streamed_body_over_cap_without_content_length(
    feed_server: FeedServer, framing: Literal["chunked", "close"]
) -> None:
    """Without Content-Length (chunked, or ended by close) the stream is cut once it passes max_bytes."""
    feed_server.reply("/feed.xml", Reply(chunks=[b"x" * 65536] * 40, framing=framing))
    error = fetch_error(feed_server.url("/feed.xml"), FetchSettings(max_bytes=1 << 20, trust_env=False))
    assert error.kind == "too_large"


def test_body_of_exactly_max_bytes_is_accepted(feed_server: FeedServer) -> None:
    """A body of exactly max_bytes passes; one byte less of budget fails."""
    feed_server.reply("/feed.xml", Reply(chunks=split(FEED, 100)))
    exact = FetchSettings(max_bytes=len(FEED), trust_env=False)
    assert fetch(feed_server.url("/feed.xml"), exact).body == FEED
    short = FetchSettings(max_bytes=len(FEED) - 1, trust_env=False)
    assert fetch_error(feed_server.url("/feed.xml"), short).kind == "too_large"


def test_gzip_body_is_decoded(feed_server: FeedServer) -> None:
    """A gzip-encoded feed is decoded; the raw Content-Encoding stays visible in the headers."""
    feed_server.set_feed("/feed.xml", FEED, gzip=True)
    result = fetch(feed_server.url("/feed.xml"))
    assert result.body == FEED
    assert result.headers["content-encoding"] == "gzip"
    assert int(result.headers["content-length"]) < len(FEED)


def test_gzip_streamed_in_tiny_chunks_is_decoded(feed_server: FeedServer) -> None:
    """Gzip split into 3-byte chunks (chunked transfer) decodes to the same bytes."""
    body = gzip.compress(FEED, mtime=0)
    feed_server.reply("/feed.xml", Reply(headers={"Content-Encoding": "gzip"}, chunks=split(body, 3)))
    assert fetch(feed_server.url("/feed.xml")).body == FEED


@pytest.mark.parametrize("wbits", [15, -15], ids=["zlib-wrapped", "raw-deflate"])
def test_deflate_body_is_decoded(feed_server: FeedServer, wbits: int) -> None:
    """Content-Encoding deflate is decoded whether zlib-wrapped (RFC) or raw (common server bug)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = compressor.compress(FEED) + compressor.flush()
    feed_server.reply("/feed.xml", Reply(headers={"Content-Encoding": "deflate"}, chunks=split(body, 1)))
    assert fetch(feed_server.url("/feed.xml")).body == FEED


def test_gzip_bomb_fails_fast_without_inflating(feed_server: FeedServer) -> None:
    """50 MB of zeros gzipped to ~50 KB, 1 MB cap: too_large in under 2 s with a small memory peak."""
    bomb = gzip_bomb(50)
    assert len(bomb) < 100_000
    feed_server.reply("/bomb.xml", Reply(headers={"Content-Encoding": "gzip"}, body=bomb))
    settings = FetchSettings(max_bytes=1 << 20, trust_env=False)
    tracemalloc.start()
    try:
        error, elapsed = timed_error(feed_server.url("/bomb.xml"), settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.kind == "too_large"
    assert elapsed < 2.0
    assert peak < 8 * (1 << 20), f"peak {peak} bytes"


def test_unadvertised_encoding_is_refused(feed_server: FeedServer) -> None:
    """A Content-Encoding we did not ask for (br) is an http error naming it."""
    feed_server.reply("/feed.xml", Reply(headers={"Content-Encoding": "br"}, body=b"\x1b\x00\x00"))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert error.kind == "http"
    assert "'br'" in error.message


def test_identity_encoding_is_plain(feed_server: FeedServer) -> None:
    """Content-Encoding identity means the body as is."""
    feed_server.reply("/feed.xml", Reply(headers={"Content-Encoding": "identity"}, body=FEED))
    assert fetch(feed_server.url("/feed.xml")).body == FEED


def test_corrupt_gzip_is_an_http_error(feed_server: FeedServer) -> None:
    """Bytes that are not gzip under Content-Encoding gzip are kind http, not a zlib exception."""
    feed_server.reply("/feed.xml", Reply(headers={"Content-Encoding": "gzip"}, body=b"this is not gzip at all" * 10))
    error = fetch_error(feed_server.url("/feed.xml"))
    assert error.kind == "http"
    assert "decompress" in error.message


def test_truncated_gzip_is_detected(feed_server: FeedServer) -> None:
    """A gzip stream cut short (connection closed, no length) is an error, not a silently short body."""
    body = gzip.compress(FEED, mtime=0)
    feed_server.reply(
        "/feed.xml",
        Reply(headers={"Content-Encoding": "gzip"}, chunks=[body[: len(body) // 2]], framing="close"),
    )
    error = fetch_error(feed_server.url("/feed.xml"))
    assert error.kind == "network"
    assert "compressed stream" in error.message


def test_body_shorter_than_content_length_is_network_error(feed_server: FeedServer) -> None:
    """A server closing before the announced Content-Length is kind network."""
    feed_server.reply("/feed.xml", Reply(headers={"Content-Length": "5000"}, body=b"<rss>"))
    assert fetch_error(feed_server.url("/feed.xml")).kind == "network"


# -- timeouts and network failures ---------------------------------------------------------------------


def test_trickling_server_hits_the_total_deadline(feed_server: FeedServer) -> None:
    """A byte every 0.2 s never trips the read timeout, but the 1.5 s deadline stops the fetch."""
    feed_server.reply("/feed.xml", Reply(chunks=[b"<"] * 50, chunk_delay=0.2))
    settings = FetchSettings(timeout_read=1.0, deadline=1.5, trust_env=False)
    error, elapsed = timed_error(feed_server.url("/feed.xml"), settings)
    assert error.kind == "timeout"
    assert "1.5 s deadline" in error.message
    assert 1.4 <= elapsed < 2.5


def test_silent_server_times_out() -> None:
    """A server that accepts the connection and never answers is kind timeout (read timeout)."""
    settings = FetchSettings(timeout_connect=1.0, timeout_read=0.5, deadline=3.0, trust_env=False)
    with silent_server() as url:
        error, elapsed = timed_error(url, settings)
    assert error.kind == "timeout"
    assert "read timeout" in error.message
    assert elapsed < 2.0


def test_slow_headers_hit_the_deadline(feed_server: FeedServer) -> None:
    """Headers that come later than the deadline are kind timeout even when the read timeout is longer."""
    feed_server.reply("/feed.xml", Reply(body=FEED, delay=3.0))
    settings = FetchSettings(timeout_read=5.0, deadline=0.5, trust_env=False)
    error, elapsed = timed_error(feed_server.url("/feed.xml"), settings)
    assert error.kind == "timeout"
    assert elapsed < 1.5


def test_connection_refused_is_network() -> None:
    """A closed port is kind network with a readable message (no Python repr)."""
    url = refused_url()
    error = fetch_error(url)
    assert error.kind == "network"
    assert error.message == "connection refused by 127.0.0.1"


class _Resolver(AbstractResolver):
    """A resolver for aiohttp's connector: maps names to 127.0.0.1 ports, or raises `failure` (no DNS query)."""

    def __init__(self, ports: dict[str, int] | None = None, failure: BaseException | None = None) -> None:
        self.ports = ports or {}
        self.failure = failure
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if self.failure is not None:
            raise self.failure
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=self.ports[host], family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


def resolver_error(resolver: _Resolver, url: str) -> FetchError:
    async def go() -> FetchError:
        async with Fetcher(SETTINGS, resolver=resolver) as fetcher:
            with pytest.raises(FetchError) as info:
                await fetcher.fetch(url)
            return info.value

    return run(go())


def test_dns_failure_is_network() -> None:
    """A name that does not resolve is kind network with the host named (no DNS query leaves the machine)."""
    # What getaddrinfo raises for an unknown name, from the resolver aiohttp's connector calls.
    resolver = _Resolver(failure=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    error = resolver_error(resolver, "http://feed.monitor-test.invalid/rss.xml")
    assert resolver.asked == ["feed.monitor-test.invalid"]
    assert error.kind == "network"
    assert error.message == "cannot resolve host 'feed.monitor-test.invalid' (Name or service not known)"


def test_tls_failure_is_network(feed_server: FeedServer) -> None:
    """TLS to a plain-HTTP port fails the handshake: kind network, message says TLS."""
    error = fetch_error(feed_server.url("/feed.xml").replace("http://", "https://"))
    assert error.kind == "network"
    assert "TLS handshake" in error.message


@pytest.mark.parametrize("url", ["ftp://example.org/feed.xml", "not a url", "http://[::1/feed", "http:///feed"])
def test_invalid_start_url_is_a_fetch_error(url: str) -> None:
    """A URL that is not http(s) or cannot be parsed raises FetchError (kind http), nothing else."""
    assert fetch_error(url).kind == "http"


# -- errors: location, one line, secrets ---------------------------------------------------------------


def test_error_location_names_feed_and_url(feed_server: FeedServer) -> None:
    """FetchError.location reads "feed 'NAME' <URL>" and the message is one line."""
    url = feed_server.url("/missing.xml")
    error = fetch_error(url, name="BBC World")
    assert error.location == f"feed 'BBC World' <{url}>"
    assert "\n" not in str(error)
    assert str(error).startswith(f"feed 'BBC World' <{url}>: HTTP 404")


def test_password_is_masked_in_errors(feed_server: FeedServer) -> None:
    """Credentials in the URL are sent as Basic auth, but neither user nor password appears in an error."""
    url = f"http://alice:s3cret-pw@127.0.0.1:{feed_server.port}/private.xml"
    error = fetch_error(url, name="private")
    assert "s3cret-pw" not in str(error)
    assert "alice" not in str(error)
    assert f"<http://***@127.0.0.1:{feed_server.port}/private.xml>" in str(error)
    [request] = feed_server.requests
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"alice:s3cret-pw").decode()


def test_token_user_and_secret_parameter_are_sent_but_masked_in_errors(feed_server: FeedServer) -> None:
    """A token as user name goes out as Basic auth and an apikey parameter in the query; errors show neither."""
    url = f"http://tok3n-as-user@127.0.0.1:{feed_server.port}/private.xml?apikey=k3y-value&page=2"
    error = fetch_error(url, name=url)
    assert "tok3n-as-user" not in str(error)
    assert "k3y-value" not in str(error)
    assert "/private.xml?apikey=***&page=2>" in str(error)
    [request] = feed_server.requests
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"tok3n-as-user:").decode()
    assert request.path == "/private.xml?apikey=k3y-value&page=2"


def test_password_is_masked_in_redirect_and_network_errors(feed_server: FeedServer) -> None:
    """Masking also covers URLs inside redirect messages and network failures."""
    feed_server.redirect("/a", "/b", status=302)
    feed_server.redirect("/b", "/a", status=302)
    loop = fetch_error(f"http://bob:hunter2@127.0.0.1:{feed_server.port}/a")
    assert loop.kind == "redirect"
    assert "hunter2" not in str(loop)
    assert "bob" not in str(loop)
    assert "http://***@127.0.0.1" in loop.message
    refused = fetch_error(refused_url().replace("http://", "http://bob:hunter2@"))
    assert refused.kind == "network"
    assert "hunter2" not in str(refused)


def test_unexpected_exception_under_the_client_becomes_fetch_error() -> None:
    """Even an unexpected exception inside the HTTP client leaves fetch() as a one-line FetchError."""
    error = resolver_error(_Resolver(failure=RuntimeError("boom\nsecond line")), "http://feeds.example/rss.xml")
    assert error.kind == "http"
    assert error.message == "unexpected error: RuntimeError: boom second line"


def test_resolver_is_injectable(feed_server: FeedServer) -> None:
    """An injected resolver sends a named host to the local server, which sees that name in Host."""
    feed_server.set_feed("/rss.xml", FEED, etag=ETAG)
    resolver = _Resolver({"feeds.example": feed_server.port})

    async def go() -> FetchResult:
        async with Fetcher(SETTINGS, resolver=resolver) as fetcher:
            return await fetcher.fetch(f"http://feeds.example:{feed_server.port}/rss.xml")

    result = run(go())
    assert (result.body, result.etag, result.url) == (FEED, ETAG, f"http://feeds.example:{feed_server.port}/rss.xml")
    [request] = feed_server.requests
    assert request.headers["host"] == f"feeds.example:{feed_server.port}"


# -- HTTPS ---------------------------------------------------------------------------------------------------


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTPS server on 127.0.0.1 serving FEED at /feed.xml, its certificate from a throwaway CA.

    Yields the URL and the CA's certificate file.
    """
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/feed.xml", ca_file
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_https_feed_is_fetched_when_its_certificate_verifies(
    https_url: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over real TLS: SSL_CERT_FILE names the CA that signed the server, so the feed is fetched."""
    url, ca_file = https_url
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    result = fetch(url, FetchSettings(trust_env=True))
    assert (result.status, result.body) == ("ok", FEED)


def test_https_certificate_of_an_unknown_ca_is_refused(https_url: tuple[str, Path]) -> None:
    """Without trusting the environment only Mozilla's bundle counts: a private CA's certificate is refused."""
    url, _ = https_url
    error = fetch_error(url, FetchSettings(trust_env=False))
    assert error.kind == "network"
    assert error.message.startswith("TLS certificate of 127.0.0.1 not accepted (")
    assert "certificate verify failed" in error.message or "unable to get local issuer" in error.message


# -- proxies from the environment -------------------------------------------------------------------------


def _proxy_environment(monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str = "") -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", proxy)
    monkeypatch.setenv("no_proxy", no_proxy)
    monkeypatch.setenv("NO_PROXY", no_proxy)


def test_http_proxy_from_the_environment_carries_the_request(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With trust_env, http_proxy (credentials included) carries the request: the proxy sees the absolute URL."""
    _proxy_environment(monkeypatch, f"http://user:secret@127.0.0.1:{feed_server.port}")
    feed_server.set_feed("http://feeds.example/rss.xml", FEED, etag=ETAG)
    result = fetch("http://feeds.example/rss.xml", FetchSettings(trust_env=True))
    assert (result.body, result.etag) == (FEED, ETAG)
    [request] = feed_server.requests
    assert request.path == "http://feeds.example/rss.xml"
    assert request.headers["proxy-authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()


def test_no_proxy_and_trust_env_off_go_direct(feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host in no_proxy, or trust_env = false, skips the proxy (here a closed port that would refuse)."""
    feed_server.set_feed("/feed.xml", FEED)
    _proxy_environment(monkeypatch, refused_url().removesuffix("/feed.xml"), no_proxy="127.0.0.1")
    assert fetch(feed_server.url("/feed.xml"), FetchSettings(trust_env=True)).body == FEED
    _proxy_environment(monkeypatch, refused_url().removesuffix("/feed.xml"))
    assert fetch(feed_server.url("/feed.xml"), FetchSettings(trust_env=False)).body == FEED
    error = fetch_error(feed_server.url("/feed.xml"), FetchSettings(trust_env=True))
    assert error.kind == "network"
    assert error.message.startswith("connection refused")


# -- concurrency ---------------------------------------------------------------------------------------


def test_slow_feed_does_not_delay_a_fast_one(feed_server: FeedServer) -> None:
    """Two fetches gathered on one Fetcher: the fast one finishes long before the slow one."""
    feed_server.reply("/slow.xml", Reply(body=FEED, delay=1.0))
    feed_server.set_feed("/fast.xml", FEED)

    async def go() -> tuple[float, float]:
        async with Fetcher(SETTINGS) as fetcher:
            started = time.monotonic()

            async def timed(path: str) -> float:
                await fetcher.fetch(feed_server.url(path))
                return time.monotonic() - started

            slow, fast = await asyncio.gather(timed("/slow.xml"), timed("/fast.xml"))
            return slow, fast

    slow, fast = run(go())
    assert slow >= 1.0
    assert fast < 0.7


def test_one_fetcher_serves_many_concurrent_fetches(feed_server: FeedServer) -> None:
    """Twenty concurrent fetches through one Fetcher all succeed, reusing its connection pool."""
    feed_server.set_feed("/feed.xml", FEED, etag=ETAG)

    async def go() -> list[FetchResult]:
        async with Fetcher(SETTINGS) as fetcher:
            first = await asyncio.gather(*(fetcher.fetch(feed_server.url("/feed.xml")) for _ in range(10)))
            again = await asyncio.gather(*(fetcher.fetch(feed_server.url("/feed.xml"), etag=ETAG) for _ in range(10)))
            return [*first, *again]

    results = run(go())
    assert [r.status for r in results] == ["ok"] * 10 + ["not_modified"] * 10
    assert len(feed_server.requests) == 20


def test_cancelling_a_fetch_propagates_cancellation(feed_server: FeedServer) -> None:
    """A caller's own cancellation (scheduler shutdown) is not turned into a FetchError."""
    feed_server.reply("/slow.xml", Reply(body=FEED, delay=2.0))

    async def go() -> None:
        async with Fetcher(SETTINGS) as fetcher:
            task = asyncio.create_task(fetcher.fetch(feed_server.url("/slow.xml")))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    run(go())


def test_recorded_requests_have_lower_case_headers(feed_server: FeedServer) -> None:
    """The test server records method, path with query, and lower-case header names."""
    feed_server.set_feed("/feed.xml", FEED)
    fetch(feed_server.url("/feed.xml?page=1"))
    [request] = feed_server.requests
    assert isinstance(request, RecordedRequest)
    assert (request.method, request.path) == ("GET", "/feed.xml?page=1")
    assert all(name == name.lower() for name in request.headers)


def test_server_closes_quickly_with_a_pending_slow_reply() -> None:
    """FeedServer.close() returns at once even while a handler is trickling a long reply."""
    server = FeedServer().start()
    server.reply("/feed.xml", Reply(chunks=[b"x"] * 100, chunk_delay=1.0))

    async def go() -> None:
        async with Fetcher(FetchSettings(deadline=0.3, trust_env=False)) as fetcher:
            with pytest.raises(FetchError):
                await fetcher.fetch(server.url("/feed.xml"))

    run(go())
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1.0
