"""The whole pipeline with real components: a feed server and an SMTP server on 127.0.0.1, SQLite in tmp_path.

These are the behaviours issue #2 asks to see: the relevant entry is mailed and the irrelevant one is not; a
second run sends nothing; a new relevant entry is mailed once and the old one never again; an SMTP server that
is down leaves the alert queued and a later run delivers it exactly once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import load_settings
from monitor.service import OnceReport, run_once
from monitor.store import Store
from tests.feedgen import item, rss
from tests.feedserver import FeedServer, Reply
from tests.smtpserver import SMTPServer

RULES = """
[actors.kataib-hezbollah]
name = "Kata'ib Hezbollah"
aliases = ["Kataeb Hezbollah", "Kataib Hezbollah", "Hezbollah Brigades"]
acronyms = ["KH"]

[rules.kataib-hezbollah]
description = "Kata'ib Hezbollah, any mention"
severity = "high"
any = ["kataib-hezbollah"]

[rules.kataib-hezbollah.examples]
match = ["Kata'ib Hizballah claims drone strike"]
no_match = ["Lebanon's Kataeb party meets"]
"""

RELEVANT = "Kata'ib Hizballah says it will hand over heavy weapons"
IRRELEVANT = "Football: Baghdad club wins the cup"


def make_config(tmp_path: Path, feed_urls: list[str], target_urls: list[str], extra: str = "") -> Path:
    """Write a rules directory and a monitor.toml pointing at local servers; return the config path."""
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "militias.toml").write_text(RULES, encoding="utf-8")
    lines = ['database = "state/monitor.db"', 'rules = "rules"', 'backfill = "24h"', extra]
    lines += ["[fetch]", 'deadline = "5s"', 'connect_timeout = "2s"', 'read_timeout = "3s"']
    for index, url in enumerate(feed_urls):
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "Wire {index + 1}"']
    for index, url in enumerate(target_urls):
        lines += ["[[targets]]", f'name = "t{index + 1}"', f'url = "{url}"']
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def once(config: Path) -> OnceReport:
    return asyncio.run(run_once(load_settings(config, env={})))


def subjects(smtp: SMTPServer) -> list[str]:
    return [str(mail.message["Subject"]) for mail in smtp.messages]


def test_relevant_entry_is_mailed_once_and_never_again(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """The relevant entry is mailed, the irrelevant one is not, and a second run with nothing new sends nothing."""
    feed_server.set_feed(
        "/wire.xml",
        rss([item(RELEVANT, guid="a1", link="https://news.example.org/a1"), item(IRRELEVANT, guid="a2")]),
        etag='"v1"',
    )
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()])

    report = once(config)
    assert [outcome.status for outcome in report.outcomes] == ["ok"]
    assert report.delivery.sent == 1
    [mail] = smtp_server.wait_for(1)
    assert RELEVANT in str(mail.message["Subject"])
    body = mail.part("text/html") or ""
    assert "https://news.example.org/a1" in body
    assert "kataib-hezbollah" in body
    assert "Wire 1" in body
    assert IRRELEVANT not in body

    report = once(config)
    assert [outcome.status for outcome in report.outcomes] == ["not_modified"]
    assert report.delivery.sent == 0
    assert len(smtp_server.messages) == 1
    # The second request carried the validators of the first answer.
    assert feed_server.requests_to("/wire.xml")[-1].headers.get("if-none-match") == '"v1"'


def test_new_relevant_entry_is_mailed_and_old_one_is_not(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """A new relevant entry on the next run is mailed; the entry mailed before is not mailed again."""
    first = item(RELEVANT, guid="b1")
    feed_server.set_feed("/wire.xml", rss([first]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()])
    once(config)
    smtp_server.wait_for(1)

    second_title = "US strike hits Kataib Hezbollah depot near al-Qaim"
    feed_server.set_feed("/wire.xml", rss([item(second_title, guid="b2"), first, item(IRRELEVANT, guid="b3")]))
    report = once(config)
    assert report.delivery.sent == 1
    mails = smtp_server.wait_for(2)
    assert len(mails) == 2
    assert second_title in str(mails[1].message["Subject"])
    assert sum(RELEVANT in subject for subject in subjects(smtp_server)) == 1


def test_smtp_down_keeps_alert_queued_then_delivers_exactly_once(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """With the SMTP server down the alert stays queued; when it is back a later run delivers it exactly once."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="c1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()])
    smtp_server.stop()

    report = once(config)
    assert report.delivery.sent == 0
    assert report.delivery.failed == 1
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        assert store.delivery_counts()["pending"] == 1

    smtp_server.start()
    report = once(config)
    assert report.delivery.sent == 1
    assert len(smtp_server.wait_for(1)) == 1
    report = once(config)
    assert report.delivery.sent == 0
    assert len(smtp_server.messages) == 1
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        assert store.delivery_counts() == {"pending": 0, "delivered": 1, "dead": 0}


def test_one_dead_target_does_not_stop_another(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """A target whose server is down keeps its alert queued while a working target still gets it."""
    with SMTPServer() as dead:
        dead_url = dead.url()
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="d1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [dead_url, smtp_server.url()])
    report = once(config)
    assert report.delivery.sent == 1
    assert report.delivery.failed == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_one_broken_feed_does_not_stop_the_others(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """A feed answering 500 and one serving HTML are counted as errors while the good feed still alerts."""
    feed_server.reply("/broken.xml", Reply(status=500, body=b"oops"))
    feed_server.reply(
        "/page.html", Reply(status=200, headers={"Content-Type": "text/html"}, body=b"<html><body>hi</body></html>")
    )
    feed_server.set_feed("/good.xml", rss([item(RELEVANT, guid="e1")]))
    urls = [feed_server.url("/broken.xml"), feed_server.url("/page.html"), feed_server.url("/good.xml")]
    config = make_config(tmp_path, urls, [smtp_server.url()])
    report = once(config)
    statuses = {outcome.url.rsplit("/", 1)[-1]: outcome for outcome in report.outcomes}
    assert statuses["broken.xml"].status == "error"
    assert statuses["page.html"].error_kind == "not_a_feed"
    assert statuses["good.xml"].status == "ok"
    assert len(smtp_server.wait_for(1)) == 1
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        broken = store.feed_state(urls[0])
        assert broken.error_count == 1
        assert broken.last_error is not None
        assert "500" in broken.last_error


def test_first_poll_backfill_alerts_only_recent_entries(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """On a feed's first poll, entries older than `backfill` are recorded without alerting."""
    old = datetime.now(UTC) - timedelta(days=3)
    feed_server.set_feed(
        "/wire.xml",
        rss([item(RELEVANT, guid="f1"), item("Old: Kataib Hezbollah statement", guid="f2", published=old)]),
    )
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()])
    report = once(config)
    assert report.outcomes[0].new_entries == 2
    assert report.delivery.sent == 1
    [mail] = smtp_server.wait_for(1)
    assert RELEVANT in str(mail.message["Subject"])


def test_changing_guid_with_same_link_does_not_realert(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """A feed that changes an item's guid on every fetch while the link stays does not alert again."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="g-1", link="https://news.example.org/g")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [smtp_server.url()])
    once(config)
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="g-2", link="https://news.example.org/g")]))
    report = once(config)
    assert report.outcomes[0].new_entries == 0
    assert len(smtp_server.wait_for(1)) == 1


def test_permanent_redirect_updates_the_stored_url(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """After a 301 the feed is fetched from its new URL, keeping its identity (the configured URL)."""
    feed_server.redirect("/old.xml", feed_server.url("/new.xml"), status=301)
    feed_server.set_feed("/new.xml", rss([item(RELEVANT, guid="h1")]))
    config = make_config(tmp_path, [feed_server.url("/old.xml")], [smtp_server.url()])
    once(config)
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        assert store.feed_state(feed_server.url("/old.xml")).url == feed_server.url("/new.xml")
    feed_server.clear_requests()
    once(config)
    assert [request.path for request in feed_server.requests] == ["/new.xml"]


def test_gone_feed_is_disabled(tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer) -> None:
    """A 410 Gone disables the feed: later runs do not fetch it."""
    feed_server.reply("/gone.xml", Reply(status=410))
    config = make_config(tmp_path, [feed_server.url("/gone.xml")], [smtp_server.url()])
    assert once(config).outcomes[0].error_kind == "gone"
    feed_server.clear_requests()
    assert once(config).outcomes[0].status == "disabled"
    assert feed_server.requests == []


def test_rate_limited_feed_waits_for_retry_after(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """A 429 with Retry-After makes later runs skip the feed until that time (unless forced)."""
    feed_server.reply("/busy.xml", Reply(status=429, headers={"Retry-After": "3600"}))
    config = make_config(tmp_path, [feed_server.url("/busy.xml")], [smtp_server.url()])
    assert once(config).outcomes[0].error_kind == "rate_limited"
    with Store.open(tmp_path / "state" / "monitor.db") as store:
        state = store.feed_state(feed_server.url("/busy.xml"))
        assert state.next_check is not None
        assert state.next_check >= datetime.now(UTC) + timedelta(minutes=59)
    feed_server.clear_requests()
    assert once(config).outcomes[0].status == "skipped"
    assert feed_server.requests == []
    asyncio.run(run_once(load_settings(config, env={}), force=True))
    assert len(feed_server.requests) == 1


def test_slow_feed_does_not_delay_another_feeds_alert(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """In `run --once` a good feed's alert is mailed while a slow feed is still being fetched."""
    import threading
    import time

    feed_server.reply("/slow.xml", Reply(status=200, body=rss([item(IRRELEVANT, guid="s")]), delay=2.8))
    feed_server.set_feed("/fast.xml", rss([item(RELEVANT, guid="f")]))
    config = make_config(tmp_path, [feed_server.url("/slow.xml"), feed_server.url("/fast.xml")], [smtp_server.url()])
    started = time.monotonic()
    runner = threading.Thread(target=once, args=(config,))
    runner.start()
    mails = smtp_server.wait_for(1, timeout=2.7)
    mailed_after = time.monotonic() - started
    runner.join(timeout=30)
    assert len(mails) == 1
    assert mailed_after < 2.7
    assert time.monotonic() - started >= 2.8  # the slow feed was still being fetched when the mail arrived
