"""The feed farm: one asyncio HTTP/1.1 server on 127.0.0.1..127.0.0.H serving N generated news feeds.

Run:  .venv/bin/python benchmarks/farm.py --feeds 1000 [--hosts 8] [--port 0]
It prints one JSON line {"port": P, "hosts": [...], "feeds": N} when it listens, then serves until SIGTERM
(or, with --watch-stdin, until its stdin is closed). The harness (run.py, peers.py) starts it as a subprocess,
so its CPU is not counted in the measured process (but it shares the machine's cores, as a real server would
not).

Every feed is RSS 2.0, 50 items, about 100 KB, items with an escaped-HTML description of ~1.9 KB (paragraphs
from a generated pool; about 3 % of the titles name an actor or theme of the shipped rules). Feed i lives at
http://127.0.0.{1 + i % H}:P/feed/i.xml, so feeds are spread over H hosts (many paths per host), which makes
per-host connection limits matter as they do for real publishers. What a feed does on a repeated request
depends on i % 3:
  0 -> ETag and Last-Modified, answers 304 to a matching If-None-Match / If-Modified-Since;
  1 -> Last-Modified only, 304 to If-Modified-Since;
  2 -> no validators: always 200 with the same body until the feed changes (a third of the feeds; most big
       publishers send a validator, many small sites and some CDNs do not).
Feeds change only when told to (a new item at the top, the oldest dropped), through control URLs:
  /_control/bump?fraction=0.05&seed=1   change that fraction of the feeds (deterministic choice); JSON ids
  /_control/bump?feed=7&title=...        change one feed (the new item gets that title)
  /_control/stats                        JSON request / 200 / 304 / byte counts;  /_control/reset clears them
  /_control/served?feed=7                JSON [[version, first time (time.time()) that version was sent], ...]
Nothing is copied from real outlets: the text is generated from word lists in this file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from html import escape
from urllib.parse import parse_qs, urlsplit

ITEMS = 50
PARAGRAPHS = 600
KINDS = ("etag", "last_modified", "none")

_VOCABULARY = (
    "government minister parliament security forces officials said statement talks agreement election "
    "province capital border region council budget oil revenue reform protest court ruling ministry "
    "spokesman announced meeting delegation visit envoy negotiations committee commander operation "
    "reconstruction electricity water prices market investment contract project villages residents "
    "university students hospital doctors police checkpoint highway airport convoy drought harvest "
    "farmers exports imports currency central bank inflation salaries pensions strike union report "
    "analysts observers regional neighbouring international conference summit cooperation dispute"
)
_WORDS = _VOCABULARY.split()
_NAMES = ("Basra", "Mosul", "Erbil", "Najaf", "Karbala", "Kirkuk", "Anbar", "Diyala", "Dohuk", "Samawa")
# Phrases the shipped rules know: a few titles carry one, so matching finds something to report.
_MENTIONS = (
    "Kataib Hezbollah",
    "Popular Mobilization Forces",
    "disarmament of armed factions",
    "Asaib Ahl al-Haq",
    "weapons under state control",
    "Islamic Resistance in Iraq",
)
# Item dates count from midnight UTC, so a farm restarted the same day serves the same bytes.
_START = time.time() // 86400 * 86400


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _paragraph_pool(seed: int) -> list[bytes]:
    """Escaped-HTML paragraphs (as they sit inside <description>), about 380 bytes each."""
    rng = random.Random(seed)
    pool = []
    for _ in range(PARAGRAPHS):
        sentences = " ".join(_sentence(rng, rng.randint(8, 14)) for _ in range(rng.randint(3, 4)))
        city = rng.choice(_NAMES)
        html = f'<p>{sentences} <a href="https://news.example.org/{city.lower()}">{city}</a></p>'
        pool.append(escape(html).encode())
    return pool


class Feed:
    """One generated feed: its version (how many times it changed) and when each version was first served."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.kind = KINDS[index % len(KINDS)]
        self.path = f"/feed/{index}.xml"
        self.version = 0
        self.bumped_at: dict[int, float] = {}  # item number -> time it was added (items >= ITEMS)
        self.titles: dict[int, str] = {}  # item number -> title given with the bump
        self.served: dict[int, float] = {}  # version -> first time it was sent
        self._cache: tuple[int, list[bytes], int] | None = None

    def item_time(self, number: int) -> float:
        """Publication time of item `number`: the first 50 are 2-3 days old; later ones when they appeared."""
        if number in self.bumped_at:
            return self.bumped_at[number]
        return _START - 3 * 86400 + number * 600 + self.index % 600

    @property
    def last_modified(self) -> str:
        return formatdate(self.item_time(self.version + ITEMS - 1), usegmt=True)

    @property
    def etag(self) -> str:
        return f'"f{self.index}-v{self.version}"'

    def body(self, pool: list[bytes]) -> tuple[list[bytes], int]:
        """The current document as byte chunks (shared paragraphs are not copied) and its length."""
        if self._cache is not None and self._cache[0] == self.version:
            return self._cache[1], self._cache[2]
        newest = self.version + ITEMS - 1
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>Farm Wire {self.index}</title><link>https://news.example.org/{self.index}/</link>"
            f"<description>Generated feed {self.index}</description><language>en</language>"
            f"<lastBuildDate>{formatdate(self.item_time(newest), usegmt=True)}</lastBuildDate>\n"
        )
        chunks = [head.encode()]
        for number in range(newest, self.version - 1, -1):
            chunks.extend(self._item(number, pool))
        chunks.append(b"</channel></rss>\n")
        self._cache = (self.version, chunks, sum(len(chunk) for chunk in chunks))
        return chunks, self._cache[2]

    def _item(self, number: int, pool: list[bytes]) -> list[bytes]:
        rng = random.Random(self.index * 1_000_003 + number)
        title = _sentence(rng, rng.randint(6, 11))[:-1]
        if rng.random() < 0.03:
            title = f"{title} as {rng.choice(_MENTIONS)} {rng.choice(_WORDS)}"
        title = self.titles.get(number, title)
        link = f"https://news.example.org/{self.index}/story-{number}.html"
        head = (
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">farm-{self.index}-{number}</guid>'
            f"<pubDate>{formatdate(self.item_time(number), usegmt=True)}</pubDate>"
            f"<category>{rng.choice(_NAMES)}</category><description>"
        )
        paragraphs = [pool[rng.randrange(PARAGRAPHS)] for _ in range(4)]
        return [head.encode(), *paragraphs, b"</description></item>\n"]

    def bump(self, title: str | None = None) -> None:
        """A new item appears at the top (with `title` if given); the oldest one drops off."""
        self.version += 1
        self.bumped_at[self.version + ITEMS - 1] = time.time()
        if title is not None:
            self.titles[self.version + ITEMS - 1] = title


class Farm:
    """The server state: feeds by path, the paragraph pool, request counters."""

    def __init__(self, feeds: int, seed: int) -> None:
        self.pool = _paragraph_pool(seed)
        self.feeds = [Feed(index) for index in range(feeds)]
        self.by_path = {feed.path: feed for feed in self.feeds}
        self.stats = {"requests": 0, "status_200": 0, "status_304": 0, "bytes": 0}

    def control(self, path: str, query: dict[str, list[str]]) -> object:
        if path == "/_control/stats":
            return self.stats
        if path == "/_control/reset":
            self.stats = dict.fromkeys(self.stats, 0)
            return self.stats
        if path == "/_control/bump":
            if "feed" in query:
                chosen = [int(query["feed"][0])]
            else:
                fraction = float(query.get("fraction", ["0.05"])[0])
                rng = random.Random(int(query.get("seed", ["1"])[0]))
                chosen = sorted(rng.sample(range(len(self.feeds)), max(1, round(fraction * len(self.feeds)))))
            title = query.get("title", [None])[0]
            for index in chosen:
                self.feeds[index].bump(title)
            return chosen
        if path == "/_control/served":
            feed = self.feeds[int(query["feed"][0])]
            return sorted(feed.served.items())
        raise KeyError(path)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                keep_alive = await self._respond(head, writer)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _respond(self, head: bytes, writer: asyncio.StreamWriter) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        connection = b"keep-alive" if keep_alive else b"close"
        parts = urlsplit(target)
        self.stats["requests"] += 1
        if parts.path.startswith("/_control/"):
            try:
                payload = json.dumps(self.control(parts.path, parse_qs(parts.query))).encode()
                status = b"200 OK"
            except (KeyError, ValueError, IndexError) as error:
                payload, status = json.dumps({"error": str(error)}).encode(), b"400 Bad Request"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(payload)).encode()
                + b"\r\nConnection: "
                + connection
                + b"\r\n\r\n"
                + payload
            )
            return keep_alive
        feed = self.by_path.get(parts.path)
        if feed is None or method not in ("GET", "HEAD"):
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: " + connection + b"\r\n\r\n")
            return keep_alive
        validators = []
        if feed.kind == "etag":
            validators.append(f"ETag: {feed.etag}")
        if feed.kind in ("etag", "last_modified"):
            validators.append(f"Last-Modified: {feed.last_modified}")
        if self._not_modified(feed, headers):
            self.stats["status_304"] += 1
            extra = "".join(f"{line}\r\n" for line in validators)
            writer.write(f"HTTP/1.1 304 Not Modified\r\n{extra}Connection: ".encode() + connection + b"\r\n\r\n")
            return keep_alive
        chunks, length = feed.body(self.pool)
        feed.served.setdefault(feed.version, time.time())
        self.stats["status_200"] += 1
        self.stats["bytes"] += length
        response_head = (
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                f"Content-Length: {length}\r\n" + "".join(f"{line}\r\n" for line in validators) + "Connection: "
            ).encode()
            + connection
            + b"\r\n\r\n"
        )
        writer.write(response_head)
        if method == "GET":
            writer.writelines(chunks)
        return keep_alive

    @staticmethod
    def _not_modified(feed: Feed, headers: dict[str, str]) -> bool:
        if feed.kind == "none":
            return False
        if feed.kind == "etag" and "if-none-match" in headers:
            return feed.etag in [tag.strip() for tag in headers["if-none-match"].split(",")]
        since = headers.get("if-modified-since")
        if since:
            try:
                return parsedate_to_datetime(since).timestamp() >= int(feed.item_time(feed.version + ITEMS - 1))
            except (TypeError, ValueError):
                return False
        return False


async def serve(feeds: int, hosts: int, port: int, seed: int, watch_stdin: bool) -> None:
    addresses = [f"127.0.0.{number}" for number in range(1, hosts + 1)]
    farm = Farm(feeds, seed)
    first = await asyncio.start_server(farm.handle, addresses[0], port, backlog=4096)
    port = first.sockets[0].getsockname()[1]
    servers = [first]
    for address in addresses[1:]:
        servers.append(await asyncio.start_server(farm.handle, address, port, backlog=4096))
    print(json.dumps({"port": port, "hosts": addresses, "feeds": feeds}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    if watch_stdin:
        # Stop when the parent goes away (its end of our stdin pipe closes).
        def wait_for_eof() -> None:
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches end of file")
    args = parser.parse_args()
    asyncio.run(serve(args.feeds, args.hosts, args.port, args.seed, args.watch_stdin))


if __name__ == "__main__":
    main()
