"""Secrets out of everything monitor shows: the one redaction behind logs, tables, JSON, OPML, errors, metrics.

Pure: strings in, strings out; no I/O, no apprise. What is secret in a URL:
- its user-info, user name and password alike (a token is often sent as the user name: https://TOKEN@host/);
- the value of a query parameter whose name says so (`is_secret_key`: apikey, token, password, ..., and any
  name ending in token, secret, password or key), and of apprise's `+Header=` and `-param=` parameters;
- for a notification target, also what apprise's privacy URL hides for that service: `notify.mask_url` asks
  apprise for it and hands it to `target_display` (which also hides generic webhook paths).

The functions, by use:
- `redact_url`: the form of a URL to show anywhere (`https://***@host/feed?apikey=***&page=2`);
- `feed_display_name`: the name of a feed configured without one (host and path of the redacted URL);
- `without_credentials`: the URL with user-info and secret parameters removed, for relative links to resolve
  against (a link must never carry the feed's password);
- `url_secrets` / `target_secrets` and `scrub`: the literal secrets of a URL, masked wherever they appear in
  free text (an HTTP library's or apprise's error message);
- `redact_text`: every URL inside free text redacted, the safety net of log lines and stored errors;
- `target_display`: a target URL for logs and output.
Only `monitor feeds export --with-credentials` writes feed URLs unredacted (docs/operations.md, "Secrets").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

MASK = "***"
"""What a hidden user-info, parameter value or secret in free text is replaced with."""

SECRET_QUERY_KEYS = frozenset(
    {"access_token", "apikey", "api_key", "auth", "authorization", "code", "key", "pass", "passwd"}
    | {"password", "secret", "sig", "signature", "token", "webhook", "session", "sessionid", "jwt"}
)
"""Query parameter names (lower case, "-" read as "_") whose values are secrets."""

_SECRET_KEY_ENDINGS = ("token", "secret", "password", "passwd", "apikey", "_key", "signature")
"""Also secret: names ending so (auth_token, client_secret, private_token, x_api_key, secret_key, ...)."""

_NOISE_QUERY = {"overflow": "upstream", "retry": "0", "wait": "0.5", "optional": "no"}
"""Parameters apprise adds to every privacy URL with their default values; dropped from a target's display."""

_WEBHOOK_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
"""Generic webhook plugins: apprise shows their path in clear, but webhook paths often carry the token."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`]+")
_MIN_FREE_TEXT_SECRET = 3
"""Shorter secrets are not searched for in free text: masking "a" would garble every message."""


def is_secret_key(key: str) -> bool:
    """Whether a query parameter called `key` (as written in the URL) carries a secret value."""
    if key[:1] in "+-" or unquote(key)[:1] in "+-":  # apprise: +Header=, -param= (Authorization, api keys)
        return True
    name = unquote_plus(key).strip().lower().replace("-", "_")
    return name in SECRET_QUERY_KEYS or name.endswith(_SECRET_KEY_ENDINGS)


class _Parts:
    """A URL cut into pieces by hand: never raises, and unlike urlsplit keeps every character as written."""

    def __init__(self, url: str) -> None:
        self.scheme, separator, rest = url.partition("://")
        if not separator or not _SCHEME.fullmatch(self.scheme):
            self.scheme, rest = "", url
            self.has_authority = False
        else:
            self.has_authority = True
        end = 0
        if self.has_authority:
            end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        authority, tail = rest[:end], rest[end:]
        self.userinfo, at, self.hostport = authority.rpartition("@")
        self.has_userinfo = bool(at)
        before_fragment, hash_sign, self.fragment = tail.partition("#")
        self.path, question, self.query = before_fragment.partition("?")
        self.has_fragment, self.has_query = bool(hash_sign), bool(question)

    def join(self, userinfo: str | None, query: list[str]) -> str:
        """The URL again, with `userinfo` (None: none) and the query pieces given."""
        head = f"{self.scheme}://" if self.has_authority else ""
        user = f"{userinfo}@" if userinfo is not None else ""
        text = f"{head}{user}{self.hostport}{self.path}"
        if query or (self.has_query and not self.query):
            text += "?" + "&".join(query)
        return text + (f"#{self.fragment}" if self.has_fragment else "")

    def query_pieces(self) -> list[tuple[str, str, str]]:
        """(key, "=" or "", value) per "&"-separated piece of the query, as written."""
        return [piece.partition("=") for piece in self.query.split("&")] if self.query else []


def redact_url(url: str) -> str:
    """`url` as it may be shown: user-info replaced by *** and the values of secret parameters by ***.

    Everything else is kept as written; a URL with nothing secret comes back unchanged. Never raises.
    """
    parts = _Parts(url)
    query = [
        f"{key}={MASK}" if equals and value and is_secret_key(key) else f"{key}{equals}{value}"
        for key, equals, value in parts.query_pieces()
    ]
    return parts.join(MASK if parts.has_userinfo else None, query)


def has_secrets(url: str) -> bool:
    """Whether `redact_url` hides anything of `url` (credentials or secret parameters)."""
    return redact_url(url) != url


def without_credentials(url: str) -> str:
    """`url` with its user-info and secret parameters left out (not masked): a base for relative links."""
    parts = _Parts(url)
    query = [f"{key}{equals}{value}" for key, equals, value in parts.query_pieces() if not is_secret_key(key)]
    return parts.join(None, query)


def feed_display_name(url: str) -> str:
    """The name of a feed configured without one: host[:port] and path, e.g. "example.org/rss/world.xml".

    Taken from the redacted URL, so it never holds a password, a token or a secret parameter.
    """
    parts = _Parts(redact_url(url))
    name = (parts.hostport + parts.path.rstrip("/")) if parts.has_authority else ""
    return name or redact_url(url)


def url_secrets(url: str) -> tuple[str, ...]:
    """The literal strings `redact_url` hides (user, password, whole user-info, secret parameter values).

    Each also percent-decoded; longest first; those shorter than 3 characters left out (see `scrub`).
    """
    parts = _Parts(url)
    found: list[str] = []
    if parts.has_userinfo:
        user, _, password = parts.userinfo.partition(":")
        found += [parts.userinfo, user, password]
    found += [value for key, equals, value in parts.query_pieces() if equals and value and is_secret_key(key)]
    return _longest_first(_with_decoded(found))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` replaced by ***.

    A secret of 3 characters or fewer is also hidden in apprise's "a...z" form, which would show all of it.
    """
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, MASK)
        if len(secret) <= 3:
            text = text.replace(f"{secret[0]}...{secret[-1]}", MASK)
    return text


def redact_text(text: str) -> str:
    """Every URL written in `text` (scheme://...) redacted with `redact_url`: the safety net for free text."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda found: redact_url(found.group(0)), text)


# -- notification targets ----------------------------------------------------------------------------------


def mask_value(value: str) -> str:
    """apprise's style: first and last character kept, e.g. "a...z"; short values fully hidden."""
    return f"{value[0]}...{value[-1]}" if len(value) >= 8 else "****"


def target_display(url: str, privacy_url: str | None) -> str:
    """A target URL for logs and output, from apprise's privacy URL of it (None: apprise cannot load it).

    Of the privacy URL, the user-info and secret parameter values are hidden too, generic webhook paths
    masked segment by segment, and apprise's default-valued parameters dropped. A URL apprise cannot load
    shows its scheme only: which of its parts are secret depends on the service (a Slack, Telegram or
    Gotify token sits where a host would). Never raises.
    """
    if privacy_url is None:
        return _scheme_only(url)
    parts = _Parts(privacy_url)
    query = []
    for key, equals, value in parts.query_pieces():
        if _NOISE_QUERY.get(key) == value:
            continue
        query.append(f"{key}={MASK}" if equals and value and is_secret_key(key) else f"{key}{equals}{value}")
    if parts.scheme.lower() in _WEBHOOK_SCHEMES:
        parts.path = "/".join(mask_value(unquote(segment)) if segment else segment for segment in parts.path.split("/"))
    parts.has_fragment = False
    return parts.join(MASK if parts.has_userinfo else None, query)


def _scheme_only(url: str) -> str:
    scheme, separator, rest = url.strip().partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return "<unparseable URL>"
    return f"{scheme}://{MASK}" if rest else f"{scheme}://"


def target_secrets(url: str, shown: str) -> tuple[str, ...]:
    """The parts of a target `url` (user, password, host, path segments, query values) that `shown` hides.

    These are scrubbed from any error text about the target (apprise's messages quote URLs), longest first.
    Hosts are taken as written and in lower case (apprise lowercases a host, where some services put a token).
    """
    password = ""
    try:
        parts = urlsplit(url.strip())
        password = parts.password or ""
        host = parts.netloc.rpartition("@")[2]
        candidates = [parts.username, password, host, host.lower(), parts.hostname, parts.fragment]
        candidates += parts.path.split("/")
        candidates += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        candidates = re.split(r"[:/@?&=#]+", url)
    pieces: set[str] = set()
    for candidate in filter(None, candidates):
        for form in (candidate, unquote(candidate)):
            pieces.add(form)
            pieces.update(form.split())  # "Bearer <token>": the token alone too
    hidden = {piece for piece in pieces if len(piece) >= _MIN_FREE_TEXT_SECRET and piece not in shown}
    if password:  # however short: apprise's own "p...w" style shows all of a 2-character password
        hidden |= {password, unquote(password)}
    return _longest_first(hidden)


def _with_decoded(values: Iterable[str]) -> set[str]:
    forms: set[str] = set()
    for value in values:
        forms.update((value, unquote(value), unquote_plus(value)))
    return {form for form in forms if len(form) >= _MIN_FREE_TEXT_SECRET}


def _longest_first(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values), key=lambda value: (-len(value), value)))
