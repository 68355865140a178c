"""The peers on the same farm: lemon24's `reader` (update_feeds with worker threads) and `feed2exec` (fetch).

run.py calls `peer_scenarios`; every measured cycle runs in a fresh process of the peers' own virtualenv,
benchmarks/.peers-venv (git-ignored), which `ensure_peers_venv` creates on first use with
`pip install reader feed2exec sgmllib3k` from PyPI. (reader vendors an older feedparser that imports the
`sgmllib` module of sgmllib3k; the current feedparser, which pip picks, depends on feedparser-sgmllib instead,
so sgmllib3k has to be named.) If the virtualenv cannot be made or a peer fails, the reason is recorded in the
results instead of a number.

How each peer is driven, as its documentation says to run it:
- reader: `make_reader(db)`, `add_feed(url)` for every feed (before the clock starts), then
  `update_feeds_iter(workers=W, scheduled=False)`: W threads retrieve (requests), the calling thread parses
  (feedparser) and stores (SQLite). scheduled=False makes it update every feed now, as `monitor run --once`.
- feed2exec: an INI file with every feed and the `null` output plugin, then `FeedManager.fetch(parallel=True)`
  (the CLI's `feed2exec fetch --parallel`): feeds are fetched one after the other (requests + CacheControl)
  and parsed in a multiprocessing pool of one process per core.

This file runs in two interpreters: imported by run.py (monitor's venv) and as a script in the peers' venv
(`peers.py _reader ...` / `peers.py _feed2exec ...`). It imports only the standard library and harness.py at
module level.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

VENV = harness.BENCH_DIR / ".peers-venv"
PACKAGES = ("reader", "feed2exec", "sgmllib3k")
READER_WORKERS = 16  # as many as monitor's `concurrency`


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_peers_venv() -> str | None:
    """Create benchmarks/.peers-venv with the peers if it is missing; None when ready, else why not."""
    python = venv_python()
    if python.exists():
        check = subprocess.run(
            [str(python), "-c", "import reader, feed2exec, sgmllib"], capture_output=True, text=True, check=False
        )
        if check.returncode == 0:
            return None
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(python), "-m", "pip", "install", "-q", *PACKAGES],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip() and "WARNING" not in line]
            return f"`{' '.join(step[-3:])}` failed: {' | '.join(lines[-2:])[:300]}"
    return None


def peer_versions() -> dict[str, str]:
    """Versions of the peers and of the libraries they run on, as installed in the peers' venv."""
    code = (
        "import importlib.metadata as m, json, sqlite3;"
        "print(json.dumps({n: m.version(n) for n in ('reader', 'feed2exec', 'feedparser', 'requests',"
        " 'CacheControl')} | {'SQLite': sqlite3.sqlite_version}))"
    )
    done = subprocess.run([str(venv_python()), "-c", code], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


# -- orchestration (monitor's venv) -------------------------------------------------------------------------


def peer_scenarios(
    tool: str, farm: harness.FarmProcess, work: Path, phases: tuple[str, ...], timeout: float
) -> dict[str, dict[str, Any]]:
    """Run `phases` of one peer on the farm (same order and changes as monitor's), each in a fresh process."""
    directory = work / f"{tool}-{farm.feeds}"
    directory.mkdir()
    urls = directory / "urls.json"
    urls.write_text(json.dumps(farm.urls))
    report = directory / "report.json"
    results: dict[str, dict[str, Any]] = {}
    for phase in phases:
        if phase == "warm_changed":
            farm.control(f"bump?fraction={harness.CHANGED}&seed=1")
        farm.control("reset")
        command = [str(venv_python()), str(Path(__file__).resolve()), f"_{tool}", str(directory), phase]
        farm_cpu = farm.cpu_seconds()
        result = harness.run_child(command, report, timeout)
        result["farm"] = farm.control("stats")
        result["farm_cpu"] = farm.cpu_seconds() - farm_cpu
        results[phase] = result
        print(f"  {tool:<9}N={farm.feeds:>5} {phase:<13} {harness.brief(result)}", flush=True)
        if "error" in result:
            break  # the later phases need this one's database
    return results


# -- the measured cycles (peers' venv) ------------------------------------------------------------------------


def reader_cycle(directory: Path, phase: str) -> None:
    """One reader update of every feed; the report goes to directory/report.json."""
    import logging

    logging.disable(logging.WARNING)
    from reader import make_reader

    urls = json.loads((directory / "urls.json").read_text())
    reader = make_reader(str(directory / "reader.sqlite"))
    if phase == "cold":
        for url in urls:
            reader.add_feed(url, exist_ok=True)
    sampler = harness.TreeSampler()
    before = harness.usage_now()
    statuses: dict[str, int] = {}
    new_entries = 0
    for _url, value in reader.update_feeds_iter(workers=READER_WORKERS, scheduled=False):
        if value is None:
            status = "not_modified"
        elif isinstance(value, Exception):
            status = "error"
        else:
            status = "updated" if value.new or value.modified else "unchanged"
            new_entries += value.new
        statuses[status] = statuses.get(status, 0) + 1
    reader.close()
    result = harness.measured(before, sampler, statuses=statuses, new_entries=new_entries)
    (directory / "report.json").write_text(json.dumps(result))


def feed2exec_cycle(directory: Path, phase: str) -> None:
    """One `feed2exec fetch --parallel` of every feed; the report goes to directory/report.json."""
    import logging

    logging.disable(logging.WARNING)
    from feed2exec.controller import FeedManager

    config = directory / "feed2exec.ini"
    if phase == "cold":
        urls = json.loads((directory / "urls.json").read_text())
        sections = [f"[farm {index}]\nurl = {url}\noutput = feed2exec.plugins.null\n" for index, url in enumerate(urls)]
        config.write_text("\n".join(sections))
    manager = FeedManager(str(config), str(directory / "feed2exec.sqlite"))
    sampler = harness.TreeSampler()
    before = harness.usage_now()
    manager.fetch(parallel=True)
    result = harness.measured(before, sampler)
    (directory / "report.json").write_text(json.dumps(result))


if __name__ == "__main__":
    mode, directory, phase = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    {"_reader": reader_cycle, "_feed2exec": feed2exec_cycle}[mode](directory, phase)
