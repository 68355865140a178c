"""Parsing in worker processes (pipeline.ParsePool): same entries as parsing in-process, used only when it pays.

Real (spawned) worker processes and, for the end-to-end case, a real feed server and SMTP server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.parse import parse_feed
from monitor.pipeline import PARSE_POOL_MIN_FEEDS, ParsePool
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_end_to_end import IRRELEVANT, RELEVANT, make_config, once

HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def test_worker_processes_give_the_same_feed_as_parsing_here() -> None:
    """ParsePool.parse returns exactly what parse_feed returns for the same bytes, URL and headers."""
    body = rss(
        [
            item(RELEVANT, guid="p1", link="/relative/p1", description="<p>Text <b>bold</b> <script>x</script></p>"),
            item(IRRELEVANT, guid="p2"),
        ]
    )

    async def parse_in_workers() -> list[object]:
        pool = ParsePool(2)
        try:
            return list(
                await asyncio.gather(
                    *(pool.parse(body, url="https://news.example.org/feed", headers=HEADERS) for _ in range(3))
                )
            )
        finally:
            pool.close()

    expected = parse_feed(body, url="https://news.example.org/feed", headers=HEADERS)
    assert asyncio.run(parse_in_workers()) == [expected] * 3
    assert expected.entries[0].link == "https://news.example.org/relative/p1"


def test_pool_only_for_many_feeds() -> None:
    """A handful of feeds is parsed in a thread; PARSE_POOL_MIN_FEEDS or more get a pool on a multi-core machine."""
    assert ParsePool.for_feeds(PARSE_POOL_MIN_FEEDS - 1) is None
    pool = ParsePool.for_feeds(PARSE_POOL_MIN_FEEDS)
    assert pool is None or pool.workers >= 2


@pytest.mark.slow
def test_run_once_with_many_feeds_alerts_once_through_worker_processes(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SMTPServer
) -> None:
    """With enough feeds for the worker pool, the relevant entry is still mailed once and the rest recorded."""
    urls = []
    for number in range(PARSE_POOL_MIN_FEEDS + 5):
        title = RELEVANT if number == 7 else f"{IRRELEVANT} {number}"
        feed_server.set_feed(f"/wire{number}.xml", rss([item(title, guid=f"g{number}")]))
        urls.append(feed_server.url(f"/wire{number}.xml"))
    config = make_config(tmp_path, urls, [smtp_server.url()])

    report = once(config)
    assert {outcome.status for outcome in report.outcomes} == {"ok"}
    assert sum(outcome.new_entries for outcome in report.outcomes) == len(urls)
    assert report.delivery.sent == 1
    [mail] = smtp_server.wait_for(1)
    assert RELEVANT in str(mail.message["Subject"])

    report = once(config)
    assert {outcome.status for outcome in report.outcomes} == {"unchanged"}
    assert report.delivery.sent == 0


WORKER_SCRIPT = """
import asyncio, multiprocessing, sys
from monitor.pipeline import ParsePool
from tests.feedgen import item, rss

async def main() -> None:
    pool = ParsePool(2)
    body = rss([item("x", guid="x")])
    await asyncio.gather(*(pool.parse(body, url="https://example.org/", headers={}) for _ in range(4)))
    print(" ".join(str(child.pid) for child in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.slow
def test_workers_exit_when_monitor_is_killed(tmp_path: Path) -> None:
    """A monitor killed with SIGKILL leaves no parse worker behind (they notice and exit within seconds)."""
    script = tmp_path / "uses_pool.py"
    script.write_text(WORKER_SCRIPT, encoding="utf-8")
    repo = Path(__file__).resolve().parent.parent
    with subprocess.Popen(
        [sys.executable, str(script)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the killed process's resource tracker reports the semaphores it cleans up
        env={**os.environ, "PYTHONPATH": str(repo)},
    ) as process:
        assert process.stdout is not None
        workers = [int(pid) for pid in process.stdout.readline().split()]
        assert workers
        process.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_running(pid) for pid in workers)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
