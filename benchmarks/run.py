"""The benchmark harness: one command measures monitor and its peers on the same local feed farm.

    .venv/bin/python benchmarks/run.py             # the standard run, under 10 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick     # N = 100 only, monitor and reader: about 2 minutes
    .venv/bin/python benchmarks/run.py --full      # adds N = 5,000 and feed2exec at 1,000: ~1 hour (estimated)

For each farm size N it starts benchmarks/farm.py (N generated feeds of ~100 KB on 8 loopback hosts) and
measures, each in a fresh process: a cold cycle (empty database), a warm cycle (nothing changed) and a warm
cycle after 5 % of the feeds changed, for monitor (monitor.service.run_once, the code behind
`monitor run --once`) and for the peers (benchmarks/peers.py: reader's update_feeds and feed2exec's fetch,
from their own virtualenv). Every tool gets a freshly started farm, so all see the same bytes. Then it measures
alert latency with the real daemon (`monitor run`) and a real SMTP server (aiosmtpd), and writes
benchmarks/results/cycles.md (or cycles-quick.md / cycles-full.md) with the machine, the date and every number.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import peers

ROOT = harness.ROOT
RESULTS_DIR = ROOT / "benchmarks" / "results"
CONCURRENCY = 16  # monitor's default `concurrency`
PER_HOST = 4  # monitor's default `per_host`
PHASES = ("cold", "warm", "warm_changed")
LATENCY_SAMPLES = 5
LATENCY_INTERVAL = 10  # seconds: monitor's smallest poll interval
MENTION = "Kataib Hezbollah fighters leave checkpoint as disarmament talks resume"


@dataclass(frozen=True)
class Plan:
    """What a run measures: farm sizes, and for each peer the sizes and phases it runs at."""

    name: str
    sizes: tuple[int, ...]
    peers: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)
    latency: bool = True

    @property
    def results(self) -> Path:
        return RESULTS_DIR / ("cycles.md" if self.name == "standard" else f"cycles-{self.name}.md")


PLANS = {
    # feed2exec takes ~0.4 s per feed and cycle (serial fetches): N = 100 only, cold and warm.
    "standard": Plan(
        "standard",
        (100, 1000),
        {"reader": {100: PHASES, 1000: PHASES}, "feed2exec": {100: ("cold", "warm")}},
    ),
    "quick": Plan("quick", (100,), {"reader": {100: PHASES}}, latency=True),
    "full": Plan(
        "full",
        (100, 1000, 5000),
        {
            "reader": {100: PHASES, 1000: PHASES, 5000: PHASES},
            "feed2exec": {100: PHASES, 1000: PHASES},
        },
    ),
}


# -- monitor cycles (each in a child process) --------------------------------------------------------------


def write_config(directory: Path, urls: list[str], *, targets: str = "", interval: str = "10m") -> Path:
    """A monitor.toml for the farm's feeds, the shipped rules, and the given [[targets]] (none: console)."""
    lines = [
        f'database = "{directory / "monitor.db"}"',
        f'rules = "{ROOT / "rules"}"',
        'backfill = "24h"',
        f'interval = "{interval}"',
        'jitter = "0s"',
        f"concurrency = {CONCURRENCY}",
        f"per_host = {PER_HOST}",
        "",
    ]
    for index, url in enumerate(urls):
        lines += ["[[feeds]]", f'name = "farm {index}"', f'url = "{url}"', ""]
    path = directory / "monitor.toml"
    path.write_text("\n".join(lines) + targets)
    return path


def monitor_cycle_child(config: Path, report: Path) -> None:
    """One `run --once` cycle through monitor's API (console target, stdout is /dev/null); writes the report."""
    started = time.perf_counter()
    from monitor.config import load_settings
    from monitor.pipeline import build_runtime
    from monitor.service import run_once, utc_now

    imported = time.perf_counter()
    settings = load_settings(config)
    configured = time.perf_counter()
    build_runtime(settings, utc_now())  # timed on its own: the daemon compiles the rules once, not per cycle
    compiled = time.perf_counter()

    sampler = harness.TreeSampler()
    before = harness.usage_now()
    outcome = asyncio.run(run_once(settings))
    statuses: dict[str, int] = {}
    for polled in outcome.outcomes:
        statuses[polled.status] = statuses.get(polled.status, 0) + 1
    result = harness.measured(
        before,
        sampler,
        import_seconds=imported - started,
        config_seconds=configured - imported,
        rules_seconds=compiled - configured,
        statuses=statuses,
        new_entries=sum(polled.new_entries for polled in outcome.outcomes),
        alerts=sum(polled.alerts for polled in outcome.outcomes),
        errors=[polled.error for polled in outcome.outcomes if polled.error][:3],
    )
    report.write_text(json.dumps(result))


def monitor_scenarios(farm: harness.FarmProcess, work: Path, timeout: float) -> dict[str, dict[str, Any]]:
    """Cold, warm (nothing changed) and warm after 5 % changed, each in a fresh process, one database."""
    directory = work / f"monitor-{farm.feeds}"
    directory.mkdir()
    config = write_config(directory, farm.urls)
    report = directory / "report.json"
    results: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        if phase == "warm_changed":
            farm.control(f"bump?fraction={harness.CHANGED}&seed=1")
        farm.control("reset")
        command = [sys.executable, str(Path(__file__).resolve()), "_monitor-cycle", str(config), str(report)]
        farm_cpu = farm.cpu_seconds()
        result = harness.run_child(command, report, timeout)
        result["farm"] = farm.control("stats")
        result["farm_cpu"] = farm.cpu_seconds() - farm_cpu
        results[phase] = result
        print(f"  monitor  N={farm.feeds:>5} {phase:<13} {harness.brief(result)}", flush=True)
        if "error" in result:
            break
    return results


# -- latency: the real daemon, a real SMTP server ----------------------------------------------------------


class _Inbox:
    """aiosmtpd handler that notes when each message arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self.arrived:
            self.arrivals.append((time.time(), bytes(envelope.content).decode(errors="replace")))
            self.arrived.notify_all()
        return "250 OK"

    def wait(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.arrivals) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.arrived.wait(left)
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_latency(work: Path) -> dict[str, Any]:
    """`monitor run` on a 1-feed farm (10 s interval) with an SMTP target: an entry appears, when is it mailed?

    For each sample: the farm adds an item that a shipped rule matches; the farm logs when it first serves the
    new body (the poll that sees it) and the SMTP server logs when the alert arrives. Processing latency =
    arrival - that fetch; the wait for the next poll (0 to the interval) is reported apart.
    """
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    directory = work / "latency"
    directory.mkdir()
    samples: list[dict[str, float]] = []
    error = None
    with harness.start_farm(1, hosts=1) as farm:
        target = f'\n[[targets]]\nname = "email"\nurl = "mailto://127.0.0.1:{port}?from=monitor@example.org&to=desk@example.org"\n'
        config = write_config(directory, farm.urls, targets=target, interval=f"{LATENCY_INTERVAL}s")
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("monitor")), "--config", str(config), "-q", "run"],
            cwd=str(directory),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while not farm.control("served?feed=0") and time.monotonic() < deadline:
                time.sleep(0.2)  # the daemon's first (backfill) poll
            for number in range(1, LATENCY_SAMPLES + 1):
                time.sleep(1.0 + number * 1.3 % LATENCY_INTERVAL)  # land at different points of the interval
                before = len(inbox.arrivals)
                bumped = time.time()
                farm.control(f"bump?feed=0&title={MENTION.replace(' ', '+')}+{number}")
                if not inbox.wait(before + 1, LATENCY_INTERVAL * 3):
                    error = f"sample {number}: no alert within {LATENCY_INTERVAL * 3} s"
                    break
                arrived = inbox.arrivals[before][0]  # the entry's first alert (it may raise one per rule)
                served = {int(version): when for version, when in farm.control("served?feed=0")}
                fetched = served[number]
                samples.append(
                    {"wait_for_poll": fetched - bumped, "processing": arrived - fetched, "total": arrived - bumped}
                )
                sample = samples[-1]
                print(
                    f"  latency  sample {number}: fetch -> SMTP {sample['processing']:.2f} s, "
                    f"waited {sample['wait_for_poll']:.1f} s for the poll",
                    flush=True,
                )
        finally:
            daemon.terminate()
            try:
                _, stderr = daemon.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                _, stderr = daemon.communicate()
            controller.stop()
    if error and stderr:
        error += " | " + " ".join(stderr.decode(errors="replace").split())[-300:]
    return {"samples": samples, "error": error, "interval": LATENCY_INTERVAL}


# -- the run -------------------------------------------------------------------------------------------------


def monitor_versions() -> dict[str, str]:
    names = ("feedparser", "aiohttp", "yarl", "sqlite-utils", "rapidfuzz", "pyahocorasick", "apprise")
    versions = {name: importlib.metadata.version(name) for name in names}
    versions["SQLite"] = sqlite3.sqlite_version
    return versions


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="N = 100, monitor and reader only")
    group.add_argument("--full", action="store_true", help="also N = 5,000, and feed2exec at N = 1,000")
    parser.add_argument("--no-peers", action="store_true", help="measure monitor only")
    parser.add_argument("--sizes", help="comma-separated farm sizes instead of the plan's (e.g. 5000)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one scenario may take")
    args = parser.parse_args()
    plan = PLANS["quick" if args.quick else "full" if args.full else "standard"]
    if args.sizes or args.no_peers or args.no_latency:
        sizes = tuple(int(size) for size in args.sizes.split(",")) if args.sizes else plan.sizes
        chosen = (
            {}
            if args.no_peers
            else {tool: {n: p for n, p in by.items() if n in sizes} for tool, by in plan.peers.items()}
        )
        name = "n" + "-".join(str(size) for size in sizes) + ("" if any(chosen.values()) else "-monitor-only")
        plan = Plan(name, sizes, chosen, latency=plan.latency and not args.no_latency)

    started = time.perf_counter()
    run: dict[str, Any] = {
        "plan": plan.name,
        "command": "benchmarks/run.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": harness.machine_info(),
        "load_before": load_average(),
        "monitor_versions": monitor_versions(),
        "cycles": {},
    }
    peer_problem = peers.ensure_peers_venv() if plan.peers else "not run (--no-peers)"
    run["peer_problem"] = peer_problem
    run["peer_versions"] = peers.peer_versions() if peer_problem is None else {}
    if peer_problem:
        print(f"peers: {peer_problem}", flush=True)
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as temp:
        work = Path(temp)
        for size in plan.sizes:
            cycles: dict[str, Any] = {}
            with harness.start_farm(size) as farm:
                cycles["monitor"] = monitor_scenarios(farm, work, args.timeout)
            for tool, by_size in plan.peers.items():
                phases = by_size.get(size)
                if not phases or peer_problem:
                    continue
                with harness.start_farm(size) as farm:
                    cycles[tool] = peers.peer_scenarios(tool, farm, work, phases, args.timeout)
            run["cycles"][str(size)] = cycles
        if plan.latency:
            run["latency"] = measure_latency(work)
    run["duration"] = time.perf_counter() - started
    run["load_after"] = load_average()
    import report

    path = plan.results
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.render(run))
    path.with_suffix(".json").write_text(json.dumps(run, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)} in {run['duration']:.0f} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_monitor-cycle":
        monitor_cycle_child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        main()
