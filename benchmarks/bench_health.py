"""What a flood of /metrics scrapes costs the running daemon: its polls, its watchdog, its answers.

Run:  .venv/bin/python benchmarks/bench_health.py [--entries 1000000] [--feeds 100] [--before REV]

A real `monitor run` (open-file limit 1,024, as under systemd) polls `--feeds` feeds of the feed farm every
10 s with `[health] listen` on, over a database padded with `--entries` synthetic entries (the /metrics
queries count them). After 15 s of settling it measures 20 s at rest, then 20 s during which 1,000 clients
scrape /metrics back to back, each on its own connection. For each window: the farm's requests per second
against the schedule (feeds / 10 s), the longest gap between two WATCHDOG=1 pings (the daemon pings every
0.5 s here: a gap is the event loop held up), and the scrapes answered 200 / 503 / not at all with their
median and 95th-percentile time. `--before REV` runs the same against the code of that git revision too
(extracted with `git archive`, run with the same virtualenv). Results: benchmarks/results/health.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine_info, start_farm

INTERVAL = 10.0
SETTLE = 15.0
WINDOW = 20.0
CLIENTS = 1_000
FD_LIMIT = 1_024


class Watchdog:
    """A fake systemd notify socket recording when WATCHDOG=1 pings arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pings: list[float] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if b"WATCHDOG=1" in data:
                self.pings.append(time.monotonic())

    def longest_gap(self, start: float, end: float) -> float:
        inside = sorted([start, *(t for t in self.pings if start < t < end), end])
        return max(b - a for a, b in itertools.pairwise(inside))

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self._sock.close()


def write_config(directory: Path, urls: list[str]) -> Path:
    lines = [
        'database = "monitor.db"',
        f'rules = "{ROOT / "rules"}"',
        'interval = "10s"',
        'jitter = "0s"',
        "per_host = 100",
        "concurrency = 100",
        "[daemon]",
        'heartbeat = "5s"',
        'watch = "0s"',
        "[health]",
        'listen = "127.0.0.1:0"',
    ]
    for index, url in enumerate(urls):
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "feed {index}"']
    path = directory / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pad_database(database: Path, entries: int) -> float:
    """Add `entries` synthetic entries to the first feed; seconds it took."""
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(database)) as connection:
        feed_id = connection.execute("SELECT min(id) FROM feeds").fetchone()[0]
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = (
            (feed_id, f"pad-{n}", f"https://example.org/pad/{n}", f"Padding entry {n}", stamp) for n in range(entries)
        )
        connection.executemany(
            "INSERT INTO entries (feed_id, entry_id, link, title, first_seen) VALUES (?, ?, ?, ?, ?)", rows
        )
        connection.commit()
    return time.perf_counter() - started


async def scrape_flood(host: str, port: int, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` connections scraping /metrics back to back for `seconds`; outcomes and times."""
    outcomes: Counter[str] = Counter()
    times: list[float] = []
    deadline = time.monotonic() + seconds
    request = f"GET /metrics HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()

    async def client() -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)
                writer.write(request)
                status = await asyncio.wait_for(reader.readline(), timeout=30)
                await asyncio.wait_for(reader.read(), timeout=30)
                writer.close()
            except (OSError, TimeoutError):
                outcomes["failed"] += 1
                await asyncio.sleep(0.1)
                continue
            parts = status.split()
            code = parts[1].decode() if len(parts) > 1 else "none"
            outcomes[code] += 1
            if code == "200":
                times.append(time.monotonic() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    quantiles = statistics.quantiles(times, n=20) if len(times) >= 20 else [float("nan")] * 19
    return {
        "outcomes": dict(outcomes),
        "median_s": statistics.median(times) if times else float("nan"),
        "p95_s": quantiles[18],
    }


def farm_requests(farm: Any) -> int:
    return int(farm.control("stats")["requests"])


def measure(code: Path | None, config: Path, workdir: Path, feeds: int, farm: Any) -> dict[str, Any]:
    """Start a daemon (the worktree's code, or `code`'s), measure a window at rest and one under the flood."""
    watchdog = Watchdog(workdir / f"notify-{os.getpid()}-{time.monotonic_ns()}.sock")
    env = {key: value for key, value in os.environ.items() if key not in ("MONITOR_CONFIG", "NOTIFY_SOCKET")}
    env.update({"NOTIFY_SOCKET": str(watchdog.path), "WATCHDOG_USEC": "1000000"})
    if code is not None:
        env["PYTHONPATH"] = str(code)
    log = workdir / "daemon.log"
    with log.open("wb") as log_handle:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_handle,
        )
        resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
        try:
            address = None
            deadline = time.monotonic() + 60
            while address is None and time.monotonic() < deadline:
                found = re.search(r"event=health_listening address=(\S+)", log.read_text(errors="replace"))
                address = found.group(1) if found else None
                time.sleep(0.2)
            if address is None:
                raise RuntimeError(f"the daemon did not start: {log.read_text(errors='replace')[-2000:]}")
            host, port = address.rsplit(":", 1)
            time.sleep(SETTLE)
            windows: dict[str, Any] = {}
            for name in ("at rest", "1,000 clients scraping"):
                before, started = farm_requests(farm), time.monotonic()
                scrapes = None
                if name == "at rest":
                    time.sleep(WINDOW)
                else:
                    scrapes = asyncio.run(scrape_flood(host, int(port), CLIENTS, WINDOW))
                ended = time.monotonic()
                windows[name] = {
                    "poll_share": (farm_requests(farm) - before) / (ended - started) / (feeds / INTERVAL),
                    "watchdog_gap_s": watchdog.longest_gap(started, ended),
                    "scrapes": scrapes,
                }
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            watchdog.close()
    text = log.read_text(errors="replace")
    return {
        "windows": windows,
        "log_lines": len(text.splitlines()),
        "tracebacks": text.count("Traceback"),
        "exit": daemon.returncode,
    }


def extract(revision: str, into: Path) -> Path:
    """The `monitor` package of a git revision, extracted into `into`."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", revision, "monitor"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--before", help="a git revision to measure too (the code before a change)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "health.md")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, CLIENTS * 2 + 500)), hard))
    workdir = Path(tempfile.mkdtemp(prefix="bench-health-"))
    results: dict[str, Any] = {}
    try:
        with start_farm(args.feeds) as farm:
            config = write_config(workdir, farm.urls)
            once = subprocess.run(
                [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
                cwd=workdir,
                capture_output=True,
                check=False,
            )
            if once.returncode != 0:
                raise RuntimeError(once.stderr.decode(errors="replace")[-2000:])
            padded = pad_database(workdir / "monitor.db", args.entries)
            size_mb = (workdir / "monitor.db").stat().st_size / 1e6
            print(f"database: {args.entries} entries added in {padded:.1f} s, {size_mb:.0f} MB", flush=True)
            runs: list[tuple[str, Path | None]] = []
            if args.before:
                runs.append((f"before ({args.before})", extract(args.before, workdir / "before")))
            runs.append(("this code", None))
            for label, code in runs:
                results[label] = measure(code, config, workdir, args.feeds, farm)
                print(label, results[label], flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_results(args, results, size_mb)


def write_results(args: argparse.Namespace, results: dict[str, Any], size_mb: float) -> None:
    machine = machine_info()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    command = "benchmarks/bench_health.py" + (f" --before {args.before}" if args.before else "")
    lines = [
        "# Health endpoint: what a flood of /metrics scrapes costs the daemon",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: `.venv/bin/python {command}`",
        f"- machine: {machine['cpu_model']}, {machine['cpus']} cores, {machine['kernel']}, Python "
        f"{machine['python']}; load average at the end: {load}",
        f"- a real `monitor run`, open-file limit {FD_LIMIT}, polling {args.feeds} farm feeds every 10 s; the "
        f"database padded with {args.entries:,} entries ({size_mb:.0f} MB); 20 s windows after 15 s of settling",
        "",
        "| code | window | polls / schedule | longest watchdog gap (pings every 0.5 s) | scrapes 200 / 503 / failed "
        "| scrape median / p95 |",
        "|---|---|---:|---:|---|---|",
    ]
    for label, result in results.items():
        for window, figures in result["windows"].items():
            scrapes = figures["scrapes"]
            if scrapes is None:
                answered, latency = "-", "-"
            else:
                outcome = scrapes["outcomes"]
                answered = f"{outcome.get('200', 0)} / {outcome.get('503', 0)} / {outcome.get('failed', 0)}"
                latency = f"{scrapes['median_s'] * 1000:.0f} / {scrapes['p95_s'] * 1000:.0f} ms"
            lines.append(
                f"| {label} | {window} | {100 * figures['poll_share']:.0f} % | {figures['watchdog_gap_s']:.1f} s "
                f"| {answered} | {latency} |"
            )
        lines.append(
            f"| {label} | log | {result['log_lines']} lines, {result['tracebacks']} tracebacks, "
            f"exit {result['exit']} | | | |"
        )
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
