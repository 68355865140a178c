"""Fetch stage of the pipeline: the only HTTP code of monitor.

One `Fetcher` (one httpx.AsyncClient, shared by every feed job) does a conditional GET of a feed and returns a
`FetchResult` ("ok" with the decompressed body, or "not_modified"), or raises `FetchError` with a `kind` the
scheduler acts on. No other exception ever escapes `Fetcher.fetch` (a caller's own cancellation still does).

Shaped after Miniflux's fetcher: a request builder (`_build_request`), a response handler (`_follow_redirect`,
`_raise_for_status`, `parse_retry_after`) and a capped body reader (`_read_body`). Defences:

- timeouts: connect / read / write via httpx, plus a total deadline over the whole fetch (every redirect hop,
  headers and body) so a server trickling a byte a second cannot hold a job;
- body cap on the DECOMPRESSED size: a Content-Length above the cap fails before reading; otherwise the body
  is read raw and inflated here with zlib's `max_length`, so no single step of a gzip bomb inflates past the
  remaining budget. Only gzip and deflate are advertised; any other Content-Encoding is refused;
- redirects followed by hand (a response hook takes every 3xx away from httpx): a loop, too many hops or a
  non-HTTP target is an error; a chain made only of 301/308 reports its final URL as `permanent_url` so the
  caller can update the stored URL;
- a password in a URL (user:pass@host) is masked in every message (`redact_url`).
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from monitor import __version__
from monitor.errors import FetchError

USER_AGENT = f"monitor/{__version__} (+https://github.com/monitor-rss/monitor)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
# Only what `_Inflater` decodes itself: never br or zstd.
ACCEPT_ENCODING = "gzip, deflate"
# Retry-After values beyond this are treated as this (a server asking for a year of silence is wrong).
MAX_RETRY_AFTER = 7 * 24 * 3600.0

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
RATE_LIMITED_STATUSES = frozenset({429, 503})
HTTP_SCHEMES = frozenset({"http", "https"})

_MAX_MESSAGE = 300


@dataclass(frozen=True)
class FetchSettings:
    """How patient and trusting a fetch is. `deadline` bounds the whole fetch, redirects and body included."""

    timeout_connect: float = 10.0
    timeout_read: float = 20.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    max_connections: int = 100
    # As many idle connections as connections: with a lower cap, polling feeds of more hosts than the cap
    # closes and reopens connections all cycle long (half the requests of a 1,000-feed cycle reconnected).
    # httpx still closes a connection idle for 5 s.
    max_keepalive_connections: int = 100
    # Honour HTTP(S)_PROXY / NO_PROXY / SSL_CERT_FILE from the environment (httpx's trust_env).
    trust_env: bool = True

    def __post_init__(self) -> None:
        for name in ("timeout_connect", "timeout_read", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchSettings.{name} must be > 0")
        if self.max_bytes < 1:
            raise ValueError("FetchSettings.max_bytes must be >= 1")
        if self.max_redirects < 0:
            raise ValueError("FetchSettings.max_redirects must be >= 0")


DEFAULT_SETTINGS = FetchSettings()


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch.

    `url` is the final URL after redirects; `permanent_url` is that URL only when every hop was permanent
    (301/308), else None. Both keep any credentials of the original URL: log them through `redact_url`.
    On "not_modified", `body` is b"" and `etag` / `last_modified` are the ones the server repeated, else the
    ones sent (they are still valid), so the caller can always store them as they come.
    """

    status: Literal["ok", "not_modified"]
    url: str
    permanent_url: str | None
    body: bytes = field(repr=False)
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    status_code: int
    elapsed: float


class Fetcher:
    """Fetches feeds over one shared httpx.AsyncClient; safe for many concurrent `fetch` calls on one loop.

    Use it from a single event loop and close it with `aclose()` (or `async with Fetcher() as fetcher`).
    `transport` replaces the network (httpx.MockTransport in tests).
    """

    def __init__(
        self, settings: FetchSettings = DEFAULT_SETTINGS, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(
                connect=settings.timeout_connect,
                read=settings.timeout_read,
                write=settings.timeout_read,
                pool=settings.deadline,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_keepalive_connections,
            ),
            follow_redirects=False,
            event_hooks={"response": [_intercept_redirect]},
            trust_env=settings.trust_env,
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        name: str | None = None,
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given). Raises FetchError only.

        `name` (the feed's name) only labels errors: their location reads "feed 'NAME' <URL>".
        """
        started = time.monotonic()
        location = describe_feed(url, name)
        scrub = _Scrubber(url)
        deadline = asyncio.timeout(self.settings.deadline)
        try:
            async with deadline:
                return await self._fetch(url, etag or None, last_modified or None, started)
        except FetchError as error:
            raise FetchError(
                scrub(error.message),
                kind=error.kind,
                location=location,
                status_code=error.status_code,
                retry_after=error.retry_after,
                hint=error.hint,
            ) from error.__cause__
        except TimeoutError as error:
            if deadline.expired():
                message = f"no complete response within the {self.settings.deadline:g} s deadline"
            else:
                message = f"timed out ({_exception_text(error)})"
            raise FetchError(scrub(message), kind="timeout", location=location) from error
        except httpx.TimeoutException as error:
            raise FetchError(scrub(self._timeout_message(error)), kind="timeout", location=location) from error
        except httpx.TransportError as error:
            message = _network_message(error, httpx.URL(url).host if _is_valid(url) else url)
            raise FetchError(scrub(message), kind="network", location=location) from error
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            message = f"HTTP client error: {_exception_text(error)}"
            raise FetchError(scrub(message), kind="http", location=location) from error
        except Exception as error:  # the promise: nothing but FetchError leaves fetch()
            message = f"unexpected error: {_exception_text(error)}"
            raise FetchError(scrub(message), kind="http", location=location) from error

    # -- request builder -------------------------------------------------------------------------------------

    def _build_request(self, url: httpx.URL, etag: str | None, last_modified: str | None) -> httpx.Request:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._client.build_request("GET", url, headers=headers)

    # -- the fetch itself ------------------------------------------------------------------------------------

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None, started: float) -> FetchResult:
        current = _parse_start_url(url)
        visited = {str(current)}
        hops = 0
        every_hop_permanent = True
        while True:
            request = self._build_request(current, etag, last_modified)
            try:
                response = await self._client.send(request, stream=True)
            except _RedirectResponse as redirect:
                if hops >= self.settings.max_redirects:
                    raise FetchError(
                        f"more than {self.settings.max_redirects} redirects (last hop to {redact_url(str(current))})",
                        kind="redirect",
                    ) from None
                current = _follow_redirect(redirect.status_code, redirect.location, current, visited)
                hops += 1
                every_hop_permanent = every_hop_permanent and redirect.status_code in (PERMANENT_REDIRECT_STATUSES)
                continue
            except httpx.TimeoutException:
                raise
            except httpx.TransportError as error:
                raise FetchError(_network_message(error, current.host), kind="network") from error
            try:
                _raise_for_status(response, sent_validators=bool(etag or last_modified))
                headers = dict(response.headers.items())
                final_url = str(current)
                permanent_url = final_url if hops and every_hop_permanent else None
                if response.status_code == 304:
                    return FetchResult(
                        status="not_modified",
                        url=final_url,
                        permanent_url=permanent_url,
                        body=b"",
                        headers=headers,
                        etag=headers.get("etag") or etag,
                        last_modified=headers.get("last-modified") or last_modified,
                        status_code=304,
                        elapsed=time.monotonic() - started,
                    )
                try:
                    body = await self._read_body(response)
                except httpx.TimeoutException:
                    raise
                except httpx.TransportError as error:
                    raise FetchError(_network_message(error, current.host), kind="network") from error
                return FetchResult(
                    status="ok",
                    url=final_url,
                    permanent_url=permanent_url,
                    body=body,
                    headers=headers,
                    etag=headers.get("etag"),
                    last_modified=headers.get("last-modified"),
                    status_code=response.status_code,
                    elapsed=time.monotonic() - started,
                )
            finally:
                await response.aclose()

    # -- body reader -----------------------------------------------------------------------------------------

    async def _read_body(self, response: httpx.Response) -> bytes:
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise _too_large(f"Content-Length: {int(declared)}", limit)
        inflater = _Inflater.for_encoding(response.headers.get("content-encoding", ""))
        # The wire size of a compressed body is at most the inflated size plus a little framing;
        # this bound only stops a stream of compressed data that inflates to nothing.
        raw_limit = limit + limit // 8 + 64 * 1024
        raw_size = 0
        size = 0
        parts: list[bytes] = []
        overflow = "stopped reading there" if inflater.coding == "identity" else f"{inflater.coding}-decoded"
        async with aclosing(_raw_chunks(response)) as chunks:
            async for raw in chunks:
                raw_size += len(raw)
                if raw_size > raw_limit:
                    raise _too_large(f"more than {raw_limit} bytes received", limit)
                pending = raw
                while pending:
                    # max_length = room + 1: enough to notice the overflow, never more.
                    output, pending = inflater.inflate(pending, limit - size + 1)
                    size += len(output)
                    if size > limit:
                        raise _too_large(overflow, limit)
                    if output:
                        parts.append(output)
                    elif pending:
                        raise FetchError("decompression made no progress", kind="http")
        tail = inflater.finish()
        size += len(tail)
        if size > limit:
            raise _too_large(overflow, limit)
        parts.append(tail)
        return b"".join(parts)

    def _timeout_message(self, error: httpx.TimeoutException) -> str:
        settings = self.settings
        if isinstance(error, httpx.ConnectTimeout):
            return f"could not connect within {settings.timeout_connect:g} s (connect timeout)"
        if isinstance(error, httpx.ReadTimeout):
            return f"the server sent nothing for {settings.timeout_read:g} s (read timeout)"
        if isinstance(error, httpx.WriteTimeout):
            return f"could not send the request within {settings.timeout_read:g} s (write timeout)"
        if isinstance(error, httpx.PoolTimeout):
            return f"no free connection within {settings.deadline:g} s (pool timeout)"
        return f"timed out ({_exception_text(error)})"


# -- response handler --------------------------------------------------------------------------------------


async def _raw_chunks(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The body as it came over the wire, still compressed."""
    if not response.is_stream_consumed:
        chunks = response.aiter_raw()
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            if isinstance(chunks, AsyncGenerator):  # close it now, not whenever it is garbage-collected
                await chunks.aclose()
        return
    # A response built in memory (httpx.MockTransport) was read at creation; its raw stream can be replayed.
    if isinstance(response.stream, httpx.AsyncByteStream):
        async for chunk in response.stream:
            yield chunk
    else:
        raise FetchError("the transport returned a synchronous stream to an async client", kind="http")


class _RedirectResponse(Exception):
    """Raised by the client's response hook for every 3xx redirect, before httpx looks at Location.

    Even with follow_redirects=False, httpx parses Location to prepare `next_request` and raises on some
    values (javascript:...); taking the response away in a hook leaves every Location to `_follow_redirect`.
    httpx closes the response when a hook raises.
    """

    def __init__(self, status_code: int, location: str) -> None:
        super().__init__(f"HTTP {status_code} redirect")
        self.status_code = status_code
        self.location = location


async def _intercept_redirect(response: httpx.Response) -> None:
    if response.status_code in REDIRECT_STATUSES:
        raise _RedirectResponse(response.status_code, response.headers.get("location", ""))


def _follow_redirect(code: int, location: str, current: httpx.URL, visited: set[str]) -> httpx.URL:
    """The next URL of a redirect chain; refuses a missing/bad Location, non-HTTP schemes and loops."""
    location = location.strip()
    if not location:
        raise FetchError(f"HTTP {code} redirect without a Location header", kind="redirect")
    try:
        target = current.join(location)
        if target.scheme not in HTTP_SCHEMES:
            raise FetchError(
                f"HTTP {code} redirect to a non-HTTP URL {redact_url(str(target))[:100]} (refused)",
                kind="redirect",
            )
        target = target.copy_with(fragment=None)
    except (httpx.InvalidURL, ValueError, TypeError) as error:
        raise FetchError(
            f"HTTP {code} redirect to an invalid URL {redact_url(location)[:100]!r} ({_exception_text(error)})",
            kind="redirect",
        ) from None
    if not target.host:
        raise FetchError(f"HTTP {code} redirect to a URL without a host: {location[:100]!r}", kind="redirect")
    if str(target) in visited:
        raise FetchError(f"redirect loop: {redact_url(str(current))} -> {redact_url(str(target))}", kind="redirect")
    visited.add(str(target))
    return target


def _raise_for_status(response: httpx.Response, *, sent_validators: bool) -> None:
    """Map a final (non-redirect) status to a FetchError kind; 2xx and an expected 304 pass."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code == 304:
        if sent_validators:
            return
        raise FetchError(
            "HTTP 304 Not Modified to a request that sent no ETag or Last-Modified",
            kind="http",
            status_code=304,
        )
    phrase = httpx.codes.get_reason_phrase(code) or "(unknown status)"
    if code == 404:
        raise FetchError("HTTP 404 Not Found", kind="not_found", status_code=404, hint="check the feed's URL")
    if code == 410:
        raise FetchError(
            "HTTP 410 Gone: the feed was removed",
            kind="gone",
            status_code=410,
            hint="remove the feed or give it a new URL",
        )
    if code in RATE_LIMITED_STATUSES:
        header = response.headers.get("retry-after")
        retry_after = parse_retry_after(header, datetime.now(UTC)) if header is not None else None
        wait = f"retry after {retry_after:g} s" if retry_after is not None else "no usable Retry-After"
        raise FetchError(
            f"HTTP {code} {phrase} ({wait})", kind="rate_limited", status_code=code, retry_after=retry_after
        )
    raise FetchError(f"HTTP {code} {phrase}", kind="http", status_code=code)


_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (relative to `now`).

    Capped at MAX_RETRY_AFTER (7 days); a date in the past gives 0.0; None when empty or unparseable.
    A naive `now` or date is taken as UTC.
    """
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return min(float(text), MAX_RETRY_AFTER)  # float() of a huge digit string is inf, not an error
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


# -- decompression -----------------------------------------------------------------------------------------


class _Inflater:
    """Bounded decoder for one Content-Encoding: identity, gzip or deflate (zlib-wrapped or raw)."""

    # Input a zlib/gzip header error can show up in; past it, a raw-deflate retry is pointless.
    _SNIFF_BYTES = 64

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._zlib = zlib.decompressobj(wbits=47) if coding != "identity" else None  # 47: gzip or zlib header
        self._sniffing = coding != "identity"
        self._sniffed = b""

    @classmethod
    def for_encoding(cls, header: str) -> _Inflater:
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if not codings:
            return cls("identity")
        if len(codings) > 1:
            raise FetchError(
                f"the server stacked Content-Encodings {', '.join(codings)!r}; only a single gzip or deflate "
                "is supported",
                kind="http",
            )
        coding = codings[0]
        if coding in ("gzip", "x-gzip", "deflate"):
            return cls(coding)
        raise FetchError(
            f"the server sent Content-Encoding {coding[:40]!r}, which monitor did not ask for and cannot "
            f"decode (it accepts {ACCEPT_ENCODING})",
            kind="http",
        )

    def inflate(self, data: bytes, max_length: int) -> tuple[bytes, bytes]:
        """Decode at most `max_length` bytes out of `data`; returns (output, input not consumed yet)."""
        if self._zlib is None:
            return data, b""
        if self._sniffing:
            self._sniffed += data
        try:
            output = self._zlib.decompress(data, max_length)
        except zlib.error as error:
            if not self._sniffing:
                raise self._corrupt(error) from None
            # Some servers send raw deflate (no zlib header) as "deflate": start over in raw mode.
            self._zlib = zlib.decompressobj(wbits=-15)
            self._sniffing = False
            try:
                output = self._zlib.decompress(self._sniffed, max_length)
            except zlib.error as raw_error:
                raise self._corrupt(raw_error) from None
            self._sniffed = b""
        if self._sniffing and (output or len(self._sniffed) >= self._SNIFF_BYTES):
            self._sniffing = False
            self._sniffed = b""
        return output, self._zlib.unconsumed_tail

    def finish(self) -> bytes:
        """Whatever the decoder still holds; fails when the compressed stream was cut short."""
        if self._zlib is None:
            return b""
        try:
            tail = self._zlib.flush()
        except zlib.error as error:
            raise self._corrupt(error) from None
        if not self._zlib.eof:
            raise FetchError(f"the {self.coding} body ends before the end of its compressed stream", kind="network")
        return tail

    def _corrupt(self, error: zlib.error) -> FetchError:
        return FetchError(f"cannot decompress the {self.coding} body ({error})", kind="http")


# -- messages and secrets ----------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """`url` with the password of its user:password@ part replaced by ***; anything else unchanged."""
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        has_password = "@" in url
        parts = None
    if not has_password:
        return url
    if parts is None:
        return "<url with credentials>"
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostport}").geturl()


def describe_feed(url: str, name: str | None = None) -> str:
    """The location of a feed's errors: "feed 'NAME' <URL>" (password masked)."""
    shown = redact_url(url)
    return f"feed {name!r} <{shown}>" if name else f"feed <{shown}>"


class _Scrubber:
    """Masks a URL's password wherever it appears in a message, and keeps the message on one line."""

    def __init__(self, url: str) -> None:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        # Very short passwords are not searched for in free text: masking "a" would garble every message.
        candidates = {p for p in (password, unquote(password or "")) if p and len(p) >= 3}
        self._secrets = sorted(candidates, key=len, reverse=True)

    def __call__(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return _one_line(message)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _exception_text(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _network_message(error: httpx.TransportError, host: str) -> str:
    """A readable one-line cause for a transport failure (DNS, refused, reset, TLS, protocol)."""
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve host {host!r} ({cause.strerror or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate of {host} not accepted ({cause.verify_message or cause.reason})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {host} failed ({cause.reason or cause})"
        if isinstance(cause, ConnectionResetError):
            return f"connection reset by {host}"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol ({error})"
    if isinstance(error, httpx.UnsupportedProtocol):
        return f"unsupported URL ({error})"
    return f"network error: {_exception_text(error)}"


def _parse_start_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise FetchError(f"invalid URL ({error})", kind="http", hint="fix the feed's url") from None
    if parsed.scheme not in HTTP_SCHEMES:
        raise FetchError(
            f"unsupported URL scheme {parsed.scheme!r} (only http and https)",
            kind="http",
            hint="fix the feed's url",
        )
    if not parsed.host:
        raise FetchError("the URL has no host", kind="http", hint="fix the feed's url")
    return parsed.copy_with(fragment=None)


def _is_valid(url: str) -> bool:
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    return True


def _too_large(detail: str, limit: int) -> FetchError:
    return FetchError(
        f"body larger than the {limit}-byte limit ({detail})",
        kind="too_large",
        hint="raise max_bytes if the feed is legitimately this big",
    )
