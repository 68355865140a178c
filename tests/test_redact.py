"""monitor.redact, the one redaction behind every output: URLs, free text, feed names, target displays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.model import Entry, FeedConfig, Hit, Match
from monitor.redact import (
    feed_display_name,
    has_secrets,
    is_secret_key,
    redact_text,
    redact_url,
    scrub,
    target_display,
    url_secrets,
    without_credentials,
)
from monitor.store import NewEntry, Store


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.org/feed.xml", "https://example.org/feed.xml"),
        ("https://alice:pw@example.org/f", "https://***@example.org/f"),
        ("https://TOKEN@example.org/f", "https://***@example.org/f"),
        ("https://u:p%40ss@example.org:8443/f?q=1", "https://***@example.org:8443/f?q=1"),
        ("https://example.org/f?apikey=K&page=2&token=T#top", "https://example.org/f?apikey=***&page=2&token=***#top"),
        (
            "https://example.org/f?Auth_Token=A&client-secret=B&x-api-key=C",
            "https://example.org/f?Auth_Token=***&client-secret=***&x-api-key=***",
        ),
        ("https://example.org/f?sort=asc&q=iraq%20news", "https://example.org/f?sort=asc&q=iraq%20news"),
        ("https://example.org/f?token=&flag", "https://example.org/f?token=&flag"),
        (
            "json://h/x?+Authorization=Bearer%20T&-apikey=K&%2BX-Key=V",
            "json://h/x?+Authorization=***&-apikey=***&%2BX-Key=***",
        ),
        ("https://a@b@example.org/", "https://***@example.org/"),
        ("https://example.org/path@not-userinfo", "https://example.org/path@not-userinfo"),
    ],
)
def test_redact_url_hides_user_info_and_secret_parameters_and_keeps_the_rest(url: str, shown: str) -> None:
    """User-info (user and password) and secret parameter values become ***; everything else stays as written."""
    assert redact_url(url) == shown
    assert has_secrets(url) == (shown != url)


@pytest.mark.parametrize(
    "url", ["", "junk", "http://[::1", "://x", "\x00\x01", "a" * 5000, "http://h:99999999/", "@@@"]
)
def test_redact_functions_never_raise(url: str) -> None:
    """Every function returns a string for any input, however broken."""
    for function in (redact_url, without_credentials, feed_display_name, redact_text):
        assert isinstance(function(url), str)
    assert isinstance(url_secrets(url), tuple)
    assert isinstance(target_display(url, None), str)


def test_secret_parameter_names() -> None:
    """Names in the list and names ending in token, secret, password or key are secret; ordinary ones are not."""
    for name in ("apikey", "API_KEY", "token", "access_token", "private-token", "client_secret", "sig", "+Header"):
        assert is_secret_key(name), name
    for name in ("page", "q", "format", "category", "lang", "monkey"):
        assert not is_secret_key(name), name


def test_without_credentials_drops_what_redact_url_masks() -> None:
    """The base for relative links has no user-info and no secret parameters (not even masked ones)."""
    url = "http://alice:pw@example.org:81/feed.xml?apikey=K&page=2"
    assert without_credentials(url) == "http://example.org:81/feed.xml?page=2"
    assert without_credentials("http://T@example.org/f?token=x") == "http://example.org/f"


def test_feed_display_name_is_host_and_path_of_the_redacted_url() -> None:
    """A feed without a name is called by host[:port] and path: never a user, password or parameter."""
    assert feed_display_name("http://alice:S3CRET@127.0.0.1:8080/feed.xml?apikey=K") == "127.0.0.1:8080/feed.xml"
    assert feed_display_name("https://TOKEN@example.org/") == "example.org"
    assert feed_display_name("https://example.org/rss/world/") == "example.org/rss/world"


def test_url_secrets_and_scrub_mask_them_in_free_text() -> None:
    """The user, password and secret values of a URL (also percent-decoded) are masked wherever they appear."""
    url = "http://alice:p%40ssw0rd@example.org/f?apikey=KEY123&page=2"
    secrets = url_secrets(url)
    assert {"alice", "p%40ssw0rd", "p@ssw0rd", "KEY123"} <= set(secrets)
    text = scrub("401 for alice (p@ssw0rd) with key KEY123 on page=2", secrets)
    assert text == "401 for *** (***) with key *** on page=2"
    assert scrub("apprise said p...w", ["pw"]) == "apprise said ***"  # apprise's form of a short secret shows it all


def test_redact_text_redacts_every_url_inside_a_message() -> None:
    """URLs quoted, bracketed or bare inside text lose their credentials; the words around them stay."""
    text = "not an http(s) URL: 'ftp://u:pw@h/x?token=T' (see <https://ok.example/a>) and http://T0K@h/ too"
    assert redact_text(text) == (
        "not an http(s) URL: 'ftp://***@h/x?token=***' (see <https://ok.example/a>) and http://***@h/ too"
    )
    assert redact_text("no url here: user:pass@host") == "no url here: user:pass@host"


def test_target_display_of_an_unloadable_url_is_its_scheme_only() -> None:
    """Where apprise cannot say which parts are secret, only the scheme is shown."""
    assert target_display("slack://S3CRET-TOKEN", None) == "slack://***"
    assert target_display("slack://", None) == "slack://"
    assert target_display("junk", None) == "<unparseable URL>"


def test_target_display_hides_user_info_secret_parameters_and_webhook_paths() -> None:
    """Of apprise's privacy URL, the user name, secret values and generic webhook paths are hidden too."""
    privacy = "json://TOKEN-AS-USER@127.0.0.1:8089/hook/abcdefghij?method=POST&retry=0&-apikey=K"
    assert target_display("", privacy) == "json://***@127.0.0.1:8089/****/a...j?method=POST&-apikey=***"


def test_renamed_feed_is_renamed_in_the_alert_search_index(tmp_path: Path) -> None:
    """A feed's new name replaces its old one in the search index; an old user:password@host name is replaced."""
    now = datetime(2026, 11, 24, tzinfo=UTC)
    url = "http://alice:S3CRET@127.0.0.1:8080/feed.xml"
    gone = "http://bob:S3CRET2@127.0.0.1:8080/old.xml"
    hit = Hit("kh", "actor", "KH", "title", 0, 2, "KH", 100.0)
    with Store.open(tmp_path / "monitor.db") as store:
        # What an older version stored: feeds named after their netloc, alerts indexed under that name.
        ids = [
            state.feed_id
            for state in store.sync_feeds(
                [
                    FeedConfig(url=url, name="alice:S3CRET@127.0.0.1:8080", interval=600),
                    FeedConfig(url=gone, name="bob:S3CRET2@127.0.0.1:8080", interval=600),
                ],
                now,
            )
        ]
        for feed_id in ids:
            item = NewEntry(
                Entry(f"e{feed_id}", "KH headline", f"https://n.example/{feed_id}"),
                (Match("r", "high", 100, (hit,)),),
                True,
            )
            store.record_entries(feed_id, [item], now=now, route=lambda _match: ["console"])
        store.sync_feeds([FeedConfig(url=url, name=feed_display_name(url), interval=600)], now)
        names = [row[0] for row in store.db.execute("SELECT name FROM feeds ORDER BY id")]
        indexed = [row[0] for row in store.db.execute("SELECT feed FROM alert_search ORDER BY rowid")]
        assert store.search_alerts(text="feed.xml", limit=10)
    assert names == ["127.0.0.1:8080/feed.xml", "127.0.0.1:8080/old.xml"]
    assert indexed == names
