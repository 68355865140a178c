"""Helpers shared by run.py and peers.py: start the feed farm, run one measured scenario in a fresh process.

A scenario runs in its own process so its peak memory (ru_maxrss) and CPU time belong to it alone. The child
writes a JSON report (its own timings around the cycle) to a file; the parent adds what os.wait4 says about
the whole process (peak RSS, CPU including start-up and imports). Only the Python standard library is used
here, so peers.py can import this module from the peers' virtualenv too.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
HOSTS = 8
CHANGED = 0.05  # share of the feeds that change before the "warm, 5 % changed" cycle
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class FarmProcess:
    """A running farm.py: its process, port and feed URLs."""

    process: subprocess.Popen[bytes]
    port: int
    feeds: int
    hosts: int

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.{1 + index % self.hosts}:{self.port}/feed/{index}.xml" for index in range(self.feeds)]

    def control(self, path: str) -> Any:
        """GET a control URL of the farm (e.g. "bump?fraction=0.05") and return its JSON."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_control/{path}", timeout=30) as response:
            return json.loads(response.read())

    def cpu_seconds(self) -> float:
        """CPU time the farm has used so far (its share of the machine during a scenario)."""
        try:
            text = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _TICK

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(timeout=10)

    def __enter__(self) -> FarmProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_farm(feeds: int, hosts: int = HOSTS, port: int = 0) -> FarmProcess:
    """Start benchmarks/farm.py serving `feeds` feeds over `hosts` loopback addresses; wait until it listens."""
    arguments = ["--feeds", str(feeds), "--hosts", str(hosts), "--port", str(port), "--watch-stdin"]
    process = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "farm.py"), *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError(f"the feed farm did not start (exit code {process.returncode})")
    ready = json.loads(line)
    return FarmProcess(process=process, port=int(ready["port"]), feeds=feeds, hosts=hosts)


def usage_now() -> dict[str, float]:
    """CPU seconds (user + system) of this process and of its reaped children, and the clock."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": time.perf_counter(),
        "cpu": own.ru_utime + own.ru_stime,
        "children_cpu": children.ru_utime + children.ru_stime,
    }


class TreeSampler(threading.Thread):
    """Samples the processes this one started (worker pools, forkservers) every `period` seconds, from /proc.

    `peak_tree_mb` is the largest sum of resident memory of this process and all its descendants seen in one
    sample; `descendants_cpu()` the CPU seconds its descendants used since the sampler started (a process that
    exits between two samples loses at most one period of CPU). Linux only; elsewhere both stay 0.
    """

    def __init__(self, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.peak_tree_mb = 0.0
        self._cpu: dict[int, float] = {}  # descendant pid -> its CPU seconds when last seen
        self._start_cpu: dict[int, float] = {}
        self._halt = threading.Event()
        self._sample()
        self._start_cpu = dict(self._cpu)
        self.start()

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self._sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self._sample()

    def descendants_cpu(self) -> float:
        return sum(cpu - self._start_cpu.get(pid, 0.0) for pid, cpu in self._cpu.items())

    def _sample(self) -> None:
        me = os.getpid()
        tree, frontier = [me], [me]
        while frontier:  # walk down through /proc/PID/task/TID/children (cheap: no scan of every process)
            pid = frontier.pop()
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for task in tasks:
                try:
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                except OSError:
                    continue
                tree.extend(int(child) for child in children)
                frontier.extend(int(child) for child in children)
        resident = 0
        for pid in tree:
            try:
                text = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            resident += int(fields[21]) * _PAGE  # rss, in pages
            if pid != me:
                self._cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
        self.peak_tree_mb = max(self.peak_tree_mb, resident / 1024 / 1024)


def measured(before: dict[str, float], sampler: TreeSampler | None = None, **extra: Any) -> dict[str, Any]:
    """The child's report: wall and CPU (with its descendants') since `before`, and peak memory."""
    after = usage_now()
    if sampler is not None:
        sampler.stop()
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall": after["wall"] - before["wall"],
        "cpu": after["cpu"] - before["cpu"],
        "children_cpu": sampler.descendants_cpu() if sampler is not None else 0.0,
        "rss_mb": own_peak,
        "tree_rss_mb": max(sampler.peak_tree_mb if sampler is not None else 0.0, own_peak),
        **extra,
    }


def brief(result: dict[str, Any]) -> str:
    """One progress line for a scenario's result."""
    if "error" in result:
        return f"ERROR {result['error']}"
    return (
        f"wall {result['wall']:7.2f} s  cpu {result['cpu'] + result['children_cpu']:7.2f} s  "
        f"rss {result['rss_mb']:5.0f} MB (tree {result['tree_rss_mb']:5.0f})  {result.get('statuses', '')}"
    )


def run_child(command: list[str], report: Path, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one scenario process; return its JSON report plus the process's own totals (or an error)."""
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(ROOT),
    )
    assert process.stderr is not None
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"error": f"did not finish within {timeout:.0f} s"}
    # communicate() reaped the process; its rusage is in RUSAGE_CHILDREN of ours, but mixed with the others'.
    # ru_maxrss of the child is reported by the child itself; the process wall time is measured here.
    process_wall = time.perf_counter() - started
    if process.returncode != 0 or not report.exists():
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        return {"error": f"exit code {process.returncode}: {' | '.join(tail)[:400]}"}
    result: dict[str, Any] = json.loads(report.read_text())
    result["process_wall"] = process_wall
    return result


def machine_info() -> dict[str, str]:
    """nproc, CPU model, memory, kernel and Python, for the results file."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "memory": memory,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
