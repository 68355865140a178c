"""Fetch stage of the pipeline: the only HTTP code of monitor.

One `Fetcher` (one aiohttp.ClientSession, shared by every feed job) does a conditional GET of a feed and returns
a `FetchResult` ("ok" with the decompressed body, or "not_modified"), or raises `FetchError` with a `kind` the
scheduler acts on. No other exception ever escapes `Fetcher.fetch` (a caller's own cancellation still does).

aiohttp rather than httpx: on the benchmark farm (benchmarks/), 1,000 conditional GETs cost 0.33 s of CPU
with aiohttp and 2.25 s with httpx, and an unchanged feed's poll is nothing but that request (docs/design.md).

Shaped after Miniflux's fetcher: a request builder (`_request_headers`), a response handler (`_follow_redirect`,
`_raise_for_status`, `parse_retry_after`) and a capped body reader (`_read_body`). Defences:

- timeouts: connect and read (between two socket reads) via aiohttp, plus a total deadline over the whole
  fetch (every redirect hop, headers and body) so a server trickling a byte a second cannot hold a job;
- body cap on the DECOMPRESSED size: a Content-Length above the cap fails before reading; otherwise the body
  is read raw (aiohttp's decompression is off) and inflated here with zlib's `max_length`, so no single step of
  a gzip bomb inflates past the remaining budget. Only gzip and deflate are advertised; any other
  Content-Encoding is refused;
- redirects followed by hand (aiohttp's are off): a loop, too many hops or a non-HTTP target is an error; a
  chain made only of 301/308 reports its final URL as `permanent_url` so the caller can update the stored URL;
- response headers capped (MAX_HEADER_LINE bytes a line, MAX_HEADERS lines); no cookies kept;
- a URL's credentials (user:pass@, a token as user name, secret parameters) are masked in every message
  (monitor.redact); the request itself carries them (aiohttp sends user-info as Basic authentication).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import time
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from types import TracebackType
from typing import Literal

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver
from yarl import URL

from monitor.errors import FetchError
from monitor.model import FetchSettings
from monitor.redact import redact_text, redact_url, scrub, url_secrets

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
# Only what `_Inflater` decodes itself: never br or zstd.
ACCEPT_ENCODING = "gzip, deflate"
# Retry-After values beyond this are treated as this (a server asking for a year of silence is wrong).
MAX_RETRY_AFTER = 7 * 24 * 3600.0
# Response header limits: a line (Set-Cookie, Content-Security-Policy) may be long, but not endless.
MAX_HEADER_LINE = 16 * 1024
MAX_HEADERS = 128

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
RATE_LIMITED_STATUSES = frozenset({429, 503})
HTTP_SCHEMES = frozenset({"http", "https"})

_MAX_MESSAGE = 300
_READ_CHUNK = 64 * 1024


DEFAULT_SETTINGS = FetchSettings()


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch.

    `url` is the final URL after redirects; `permanent_url` is that URL only when every hop was permanent
    (301/308), else None. Both keep any credentials of the original URL: log them through `redact_url`.
    `headers` has lower-case names (repeated headers joined with ", "), as feedparser wants them.
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
    """Fetches feeds over one shared aiohttp.ClientSession; safe for many concurrent `fetch` calls on one loop.

    The session is opened by the first `fetch`, on the running loop; use the Fetcher from that loop only and
    close it with `aclose()` (or `async with Fetcher() as fetcher`). `resolver` replaces DNS resolution (tests
    give one that fails, or that maps a name to 127.0.0.1).
    """

    def __init__(self, settings: FetchSettings = DEFAULT_SETTINGS, resolver: AbstractResolver | None = None) -> None:
        self.settings = settings
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._proxies = _EnvProxies({})

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            settings = self.settings
            connector = aiohttp.TCPConnector(
                limit=settings.max_connections,
                ssl=tls_context(trust_env=settings.trust_env),
                resolver=self._resolver,
                # 0: keep the operating system's choice between IPv4 and IPv6 (aiohttp's happy eyeballs).
                family=socket.AF_UNSPEC,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None,  # the deadline below covers the whole fetch
                    sock_connect=settings.timeout_connect,
                    sock_read=settings.timeout_read,
                ),
                headers={"User-Agent": settings.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                # aiohttp's own trust_env reads the environment and ~/.netrc in a thread on every request:
                # two thread hops per poll, and the GIL contention slowed every SQLite call of a cycle.
                trust_env=False,
                max_line_size=MAX_HEADER_LINE,
                max_field_size=MAX_HEADER_LINE,
                max_headers=MAX_HEADERS,
            )
            self._proxies = _EnvProxies.from_environment() if settings.trust_env else _EnvProxies({})
        return self._session

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
        """Close the pooled connections (a later `fetch` opens a new session)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

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
        except aiohttp.ConnectionTimeoutError as error:
            message = f"could not connect within {self.settings.timeout_connect:g} s (connect timeout)"
            raise FetchError(scrub(message), kind="timeout", location=location) from error
        except aiohttp.SocketTimeoutError as error:
            message = f"the server sent nothing for {self.settings.timeout_read:g} s (read timeout)"
            raise FetchError(scrub(message), kind="timeout", location=location) from error
        except TimeoutError as error:
            if deadline.expired():
                message = f"no complete response within the {self.settings.deadline:g} s deadline"
            else:
                message = f"timed out ({_exception_text(error)})"
            raise FetchError(scrub(message), kind="timeout", location=location) from error
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as error:
            message = _network_message(error, _host_of(url))
            raise FetchError(scrub(message), kind="network", location=location) from error
        except aiohttp.ClientError as error:
            message = f"HTTP client error: {_exception_text(error)}"
            raise FetchError(scrub(message), kind="http", location=location) from error
        except Exception as error:  # the promise: nothing but FetchError leaves fetch()
            message = f"unexpected error: {_exception_text(error)}"
            raise FetchError(scrub(message), kind="http", location=location) from error

    # -- request builder -------------------------------------------------------------------------------------

    @staticmethod
    def _request_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return headers

    # -- the fetch itself ------------------------------------------------------------------------------------

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None, started: float) -> FetchResult:
        current = _parse_start_url(url)
        visited = {str(current)}
        redirects: list[int] = []  # the status of every redirect followed
        try:
            while True:
                response = await self._send(current, etag, last_modified)
                try:
                    if response.status not in REDIRECT_STATUSES:
                        return await self._result(response, current, redirects, etag, last_modified, started)
                    if len(redirects) >= self.settings.max_redirects:
                        raise FetchError(
                            f"more than {self.settings.max_redirects} redirects (last hop to "
                            f"{redact_url(str(current))})",
                            kind="redirect",
                        )
                    location = response.headers.get("Location", "")
                    current = _follow_redirect(response.status, location, current, visited)
                    redirects.append(response.status)
                finally:
                    # Back to the pool when the body was read to its end; otherwise the connection is closed.
                    response.release()
        except (aiohttp.ClientConnectionError, aiohttp.ClientResponseError, aiohttp.ClientPayloadError) as error:
            if isinstance(error, aiohttp.ServerTimeoutError):
                raise  # fetch() words timeouts
            # Worded here: after redirects, the host that failed is not the feed URL's.
            raise FetchError(_network_message(error, current.host or ""), kind="network") from error

    async def _send(self, url: URL, etag: str | None, last_modified: str | None) -> aiohttp.ClientResponse:
        """One GET of `url` (redirects not followed), through the environment's proxy if it names one."""
        session = self._open()
        headers = self._request_headers(etag, last_modified)
        proxy, proxy_authorization = self._proxies.for_url(url)
        proxy_headers = None
        if proxy_authorization and url.scheme == "https":
            proxy_headers = proxy_authorization  # goes with the CONNECT that opens the tunnel
        elif proxy_authorization:
            headers.update(proxy_authorization)  # plain HTTP: the request itself goes to the proxy
        try:
            return await session.get(
                url, headers=headers, allow_redirects=False, proxy=proxy, proxy_headers=proxy_headers
            )
        except UnicodeError as error:  # getaddrinfo cannot IDNA-encode the name (a label over 63 characters)
            message = f"cannot resolve host {url.host!r} (not a valid host name: {_exception_text(error)})"
            raise FetchError(message, kind="network") from error

    async def _result(
        self,
        response: aiohttp.ClientResponse,
        url: URL,
        redirects: list[int],
        etag: str | None,
        last_modified: str | None,
        started: float,
    ) -> FetchResult:
        """The FetchResult of a final (non-redirect) response: its status checked, its body read."""
        _raise_for_status(response, sent_validators=bool(etag or last_modified))
        headers = _header_dict(response)
        final_url = str(url)
        permanent = bool(redirects) and all(code in PERMANENT_REDIRECT_STATUSES for code in redirects)
        if response.status == 304:
            return FetchResult(
                status="not_modified",
                url=final_url,
                permanent_url=final_url if permanent else None,
                body=b"",
                headers=headers,
                etag=headers.get("etag") or etag,
                last_modified=headers.get("last-modified") or last_modified,
                status_code=304,
                elapsed=time.monotonic() - started,
            )
        body = await self._read_body(response, headers)
        return FetchResult(
            status="ok",
            url=final_url,
            permanent_url=final_url if permanent else None,
            body=body,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            status_code=response.status,
            elapsed=time.monotonic() - started,
        )

    # -- body reader -----------------------------------------------------------------------------------------

    async def _read_body(self, response: aiohttp.ClientResponse, headers: dict[str, str]) -> bytes:
        limit = self.settings.max_bytes
        declared = headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise _too_large(f"Content-Length: {int(declared)}", limit)
        inflater = _Inflater.for_encoding(headers.get("content-encoding", ""))
        # The wire size of a compressed body is at most the inflated size plus a little framing;
        # this bound only stops a stream of compressed data that inflates to nothing.
        raw_limit = limit + limit // 8 + 64 * 1024
        raw_size = 0
        size = 0
        parts: list[bytes] = []
        overflow = "stopped reading there" if inflater.coding == "identity" else f"{inflater.coding}-decoded"
        async for raw in response.content.iter_chunked(_READ_CHUNK):
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


def tls_context(*, trust_env: bool) -> ssl.SSLContext:
    """Certificate verification against Mozilla's CA bundle (certifi), as monitor did with httpx.

    With `trust_env`, SSL_CERT_FILE / SSL_CERT_DIR replace the bundle (a private CA, a TLS-inspecting proxy).
    The system store is not used: it is empty on some minimal machines, and a bundle gives the same answer
    everywhere.
    """
    cafile = capath = None
    if trust_env:
        cafile = os.environ.get("SSL_CERT_FILE") or None
        capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile, capath=capath)


@dataclass(frozen=True)
class _EnvProxies:
    """The proxies of HTTP_PROXY / HTTPS_PROXY, by URL scheme, with NO_PROXY honoured per host.

    Only http:// proxies are used (aiohttp tunnels https through them with CONNECT); credentials in a proxy
    URL become its Proxy-Authorization header.
    """

    by_scheme: dict[str, tuple[URL, dict[str, str] | None]]

    @classmethod
    def from_environment(cls) -> _EnvProxies:
        found: dict[str, tuple[URL, dict[str, str] | None]] = {}
        for scheme, value in urllib.request.getproxies().items():
            try:
                proxy = URL(value if "://" in value else f"http://{value}")
            except (TypeError, ValueError):
                continue
            if scheme in HTTP_SCHEMES and proxy.scheme == "http" and proxy.host:
                credentials = aiohttp.BasicAuth.from_url(proxy)
                headers = {"Proxy-Authorization": credentials.encode()} if credentials else None
                found[scheme] = (proxy.with_user(None), headers)
        return cls(found)

    def for_url(self, url: URL) -> tuple[URL | None, dict[str, str] | None]:
        """The proxy (and its credentials) to reach `url` through, or (None, None) to go direct."""
        entry = self.by_scheme.get(url.scheme)
        if entry is None or (url.host and urllib.request.proxy_bypass(url.host)):
            return None, None
        return entry


# -- response handler --------------------------------------------------------------------------------------


def _header_dict(response: aiohttp.ClientResponse) -> dict[str, str]:
    """Response headers with lower-case names; a repeated header's values joined with ", "."""
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _follow_redirect(code: int, location: str, current: URL, visited: set[str]) -> URL:
    """The next URL of a redirect chain; refuses a missing/bad Location, non-HTTP schemes and loops."""
    location = location.strip()
    if not location:
        raise FetchError(f"HTTP {code} redirect without a Location header", kind="redirect")
    try:
        target = current.join(URL(location))
        if target.scheme not in HTTP_SCHEMES:
            raise FetchError(
                f"HTTP {code} redirect to a non-HTTP URL {redact_url(str(target))[:100]} (refused)",
                kind="redirect",
            )
        target = target.with_fragment(None)
        host = target.host
    except (ValueError, TypeError, UnicodeError) as error:
        raise FetchError(
            f"HTTP {code} redirect to an invalid URL {redact_url(location)[:100]!r} ({_exception_text(error)})",
            kind="redirect",
        ) from None
    if not host:
        raise FetchError(f"HTTP {code} redirect to a URL without a host: {location[:100]!r}", kind="redirect")
    if str(target) in visited:
        raise FetchError(f"redirect loop: {redact_url(str(current))} -> {redact_url(str(target))}", kind="redirect")
    visited.add(str(target))
    return target


def _reason_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "(unknown status)"


def _raise_for_status(response: aiohttp.ClientResponse, *, sent_validators: bool) -> None:
    """Map a final (non-redirect) status to a FetchError kind; 2xx and an expected 304 pass."""
    code = response.status
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
    phrase = _reason_phrase(code)
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
        header = response.headers.get("Retry-After")
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


def describe_feed(url: str, name: str | None = None) -> str:
    """The location of a feed's errors: "feed 'NAME' <URL>" (the URL redacted)."""
    shown = redact_url(url)
    return f"feed {redact_text(name)!r} <{shown}>" if name else f"feed <{shown}>"


class _Scrubber:
    """Masks a URL's secrets (user-info, secret parameters) wherever they appear in a message, and any other
    URL's too (monitor.redact); keeps the message on one line."""

    def __init__(self, url: str) -> None:
        self._secrets = url_secrets(url)

    def __call__(self, message: str) -> str:
        return _one_line(redact_text(scrub(message, self._secrets)))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _exception_text(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and what lies under it: its cause and context, and aiohttp's wrapped OS or TLS error."""
    chain: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(chain) < 10:
        current = pending.pop(0)
        if current is None or current in chain:
            continue
        chain.append(current)
        if isinstance(current, aiohttp.ClientConnectorCertificateError):
            pending.append(current.certificate_error)
        elif isinstance(current, aiohttp.ClientConnectorError):
            pending.append(current.os_error)
        pending += [current.__cause__, current.__context__]
    return chain


def _network_message(error: BaseException, host: str) -> str:
    """A readable one-line cause for a transport failure (DNS, refused, reset, TLS, protocol, cut body)."""
    for cause in _causes(error):
        if isinstance(cause, aiohttp.ClientError):
            continue  # aiohttp's wrappers (some subclass OSError or ssl.SSLError): what they wrap comes next
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
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host {host!r} ({error.os_error.strerror or error.os_error})"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return f"{host} closed the connection before a complete response"
    if isinstance(error, aiohttp.ClientPayloadError):
        return f"the response body from {host} was cut short or malformed ({_first_line(error)})"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"the server broke the HTTP protocol ({error.message or error.status})"
    return f"network error: {_exception_text(error)}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _parse_start_url(url: str) -> URL:
    try:
        parsed = URL(url)
        scheme, host = parsed.scheme, parsed.host
    except (TypeError, ValueError, UnicodeError) as error:
        raise FetchError(f"invalid URL ({error})", kind="http", hint="fix the feed's url") from None
    if scheme not in HTTP_SCHEMES:
        raise FetchError(
            f"unsupported URL scheme {scheme!r} (only http and https)",
            kind="http",
            hint="fix the feed's url",
        )
    if not host:
        raise FetchError("the URL has no host", kind="http", hint="fix the feed's url")
    return parsed.with_fragment(None)


def _host_of(url: str) -> str:
    """The host of `url` for messages, or the URL itself when it has none."""
    try:
        return URL(url).host or url
    except (TypeError, ValueError, UnicodeError):
        return url


def _too_large(detail: str, limit: int) -> FetchError:
    return FetchError(
        f"body larger than the {limit}-byte limit ({detail})",
        kind="too_large",
        hint="raise max_bytes if the feed is legitimately this big",
    )
