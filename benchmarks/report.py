"""Turns one run of benchmarks/run.py (a dict, also saved as JSON next to the report) into the Markdown report."""

from __future__ import annotations

import math
from typing import Any

PHASE_NAMES = {"cold": "cold", "warm": "warm, unchanged", "warm_changed": "warm, 5 % changed"}
TOOLS = ("monitor", "reader", "feed2exec")

FARM = """\
Each tool gets a freshly started `benchmarks/farm.py`: N generated RSS 2.0 feeds of 50 items, ~100 KB each
(escaped-HTML descriptions of ~1.9 KB, as real news feeds carry; 3 % of titles name something the shipped
rules watch), served by one asyncio HTTP/1.1 server on 8 loopback addresses (127.0.0.1-8, one port), so
feeds share hosts as real publishers' do. Feed i % 3: 0 sends ETag + Last-Modified and answers 304,
1 sends Last-Modified only and answers 304, 2 sends no validators and answers 200 with the same body
(a third of the feeds). Before the "5 % changed" cycle, 5 % of the feeds (the same ones for every tool) get a new
item at the top. Cycles run in a fresh process each; one database per tool and N, kept across its cycles.

- monitor: `monitor.service.run_once` (what `monitor run --once` runs) with the shipped rules, no target
  (console, stdout to /dev/null), `concurrency = 16`, `per_host = 4` (the defaults).
- reader: `update_feeds_iter(workers=16, scheduled=False)`.
- feed2exec: `FeedManager.fetch(parallel=True)` (`feed2exec fetch --parallel`), `null` output plugin.

Wall and CPU time cover the cycle only (not interpreter start-up and imports). CPU includes worker
processes; "farm CPU" is what the farm itself used meanwhile, on the same 2 cores. Peak RSS is the
measured process's own (ru_maxrss); "tree" is the largest sum of resident memory over the process and its
descendants (parse workers, multiprocessing's resource tracker) seen in samples every 0.2 s."""


def _seconds(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _cpu(result: dict[str, Any]) -> float:
    return float(result["cpu"]) + float(result.get("children_cpu", 0.0))


def render(run: dict[str, Any]) -> str:
    """The whole report."""
    machine = run["machine"]
    lines = [
        "# Polling cycles: monitor and its peers on the same feed farm",
        "",
        f"- date: {run['date']}; plan: {run['plan']} (`.venv/bin/python {run['command'].strip()}`), "
        f"took {run['duration'] / 60:.1f} min",
        f"- machine: {machine['cpu_model']}, {machine['cpus']} cores, {machine['memory']}, {machine['kernel']}, "
        f"Python {machine['python']}",
        f"- load average (1, 5, 15 min) before: {run['load_before']}, after: {run['load_after']} "
        "(other work on the machine shares the 2 cores and makes every figure slower)",
        "- monitor runs on: " + ", ".join(f"{name} {version}" for name, version in run["monitor_versions"].items()),
    ]
    if run.get("peer_problem"):
        lines.append(f"- peers: {run['peer_problem']}")
    else:
        versions = run["peer_versions"]
        lines.append("- peers (benchmarks/.peers-venv): " + ", ".join(f"{n} {v}" for n, v in versions.items()))
    lines += ["", "## The farm and how each tool is driven", "", FARM, ""]
    lines += _cycles(run)
    lines += _ratios(run)
    lines += _targets(run)
    lines += _latency(run)
    lines += [
        "## Matching throughput",
        "",
        "Measured by `benchmarks/bench_match.py` (entries matched per second against 100 to 20,000 aliases, and",
        "matching cost against feedparser's): see [match.md](match.md).",
        "",
    ]
    return "\n".join(lines)


def _cycles(run: dict[str, Any]) -> list[str]:
    lines = [
        "## Cycles",
        "",
        "| N | tool | cycle | wall s | CPU s | CPU ms / feed | peak RSS MB | tree MB | 200 / 304 | new entries "
        "| farm CPU s |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    notes = []
    for size, by_tool in run["cycles"].items():
        for tool in TOOLS:
            for phase, result in by_tool.get(tool, {}).items():
                cells = [size, tool, PHASE_NAMES[phase]]
                if "error" in result:
                    lines.append("| " + " | ".join([*cells, f"failed: {result['error']}", *[""] * 7]) + " |")
                    continue
                farm = result.get("farm", {})
                new = result.get("new_entries")
                cells += [
                    _seconds(result["wall"]),
                    _seconds(_cpu(result)),
                    f"{1000 * _cpu(result) / int(size):.1f}",
                    f"{result['rss_mb']:.0f}",
                    f"{result['tree_rss_mb']:.0f}",
                    f"{farm.get('status_200', '?')} / {farm.get('status_304', '?')}",
                    "" if new is None else f"{new:,}",
                    f"{result['farm_cpu']:.1f}" if "farm_cpu" in result else "",
                ]
                lines.append("| " + " | ".join(cells) + " |")
            if tool == "monitor" and "cold" in by_tool.get(tool, {}) and "error" not in by_tool[tool]["cold"]:
                cold = by_tool[tool]["cold"]
                notes.append(
                    f"N = {size}: outside the cycle, monitor spent {cold['import_seconds']:.2f} s importing, "
                    f"{cold['config_seconds']:.2f} s reading monitor.toml and {cold['rules_seconds']:.2f} s "
                    "loading and compiling the rules (once per process; run_once does it again inside the cycle)."
                )
    lines.append("")
    lines += [f"- {note}" for note in notes]
    lines.append("")
    return lines


def _wall(run: dict[str, Any], size: str, tool: str, phase: str) -> float | None:
    result = run["cycles"].get(size, {}).get(tool, {}).get(phase)
    if not result or "error" in result:
        return None
    return float(result["wall"])


def _ratios(run: dict[str, Any]) -> list[str]:
    lines = [
        "## Ratios: the peer's wall time / monitor's (higher = monitor faster)",
        "",
        "| N | cycle | reader | feed2exec |",
        "|---:|---|---:|---:|",
    ]
    for size in run["cycles"]:
        for phase, name in PHASE_NAMES.items():
            mine = _wall(run, size, "monitor", phase)
            cells = []
            for peer in ("reader", "feed2exec"):
                theirs = _wall(run, size, peer, phase)
                cells.append(f"{theirs / mine:.1f}x" if mine and theirs else "not run")
            lines.append(f"| {size} | {name} | {cells[0]} | {cells[1]} |")
    return [*lines, ""]


def _targets(run: dict[str, Any]) -> list[str]:
    lines = ["## Targets (2-core machine)", "", "| target | measured | verdict |", "|---|---|---|"]

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "**missed**")

    warm = _wall(run, "1000", "monitor", "warm")
    lines.append(
        f"| warm cycle, 1,000 unchanged feeds, under 2 s wall | {_seconds(warm) + ' s' if warm else 'n/a'} "
        f"| {verdict(None if warm is None else warm < 2)} |"
    )
    for phase, goal, label in (("warm", 10, "warm cycle"), ("cold", 2, "cold cycle")):
        mine, theirs = _wall(run, "1000", "monitor", phase), _wall(run, "1000", "reader", phase)
        ratio = theirs / mine if mine and theirs else None
        shown = f"{math.floor(ratio * 100) / 100:.2f}x" if ratio else "n/a"  # rounded down, as judged
        met = verdict(None if ratio is None else ratio >= goal)
        lines.append(f"| {label}, 1,000 feeds, >= {goal}x faster than reader | {shown} | {met} |")
    monitor = run["cycles"].get("1000", {}).get("monitor", {})
    peaks = [result["tree_rss_mb"] for result in monitor.values() if "error" not in result]
    own = [result["rss_mb"] for result in monitor.values() if "error" not in result]
    if peaks:
        lines.append(
            f"| peak memory with 1,000 feeds under 150 MB | {max(peaks):.0f} MB with its parse workers "
            f"({max(own):.0f} MB the main process) | {verdict(max(peaks) < 150)} |"
        )
    else:
        lines.append("| peak memory with 1,000 feeds under 150 MB | n/a | not measured |")
    latency = run.get("latency") or {}
    samples = latency.get("samples") or []
    if samples:
        worst = max(sample["processing"] for sample in samples)
        lines.append(
            f"| alert at the SMTP server within 2 s of the poll that sees the entry | worst {worst:.2f} s of "
            f"{len(samples)} | {verdict(worst < 2)} |"
        )
    else:
        lines.append("| alert within 2 s of the poll | n/a | not measured |")
    return [*lines, ""]


def _latency(run: dict[str, Any]) -> list[str]:
    latency = run.get("latency")
    if not latency:
        return []
    lines = [
        "## Alert latency",
        "",
        f"`monitor run` (the daemon) polls a 1-feed farm every {latency['interval']} s (the shortest interval "
        "allowed) and sends alerts by email (apprise `mailto://`) to an aiosmtpd server in the harness. Each",
        'sample adds an item that a shipped rule matches. "Fetch -> SMTP" runs from the moment the farm first',
        "served the new body (the poll that sees the entry) to the moment the SMTP server had the message;",
        '"waited for the poll" is the time the item sat on the feed before that poll (0 to the interval: on',
        "average half the interval, the part a shorter interval buys down).",
        "",
        "| sample | waited for the poll s | fetch -> SMTP s | total s |",
        "|---:|---:|---:|---:|",
    ]
    for number, sample in enumerate(latency["samples"], 1):
        lines.append(
            f"| {number} | {sample['wait_for_poll']:.2f} | {sample['processing']:.2f} | {sample['total']:.2f} |"
        )
    if latency.get("error"):
        lines += ["", f"Stopped early: {latency['error']}"]
    return [*lines, ""]
