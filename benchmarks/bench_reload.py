"""A storm of SIGHUPs against a daemon with a large watch list: reloads run, memory, time to stop.

Run:  .venv/bin/python benchmarks/bench_reload.py [--aliases 50000] [--before REV]

A real `monitor run` loads rules with `--aliases` generated aliases (bench_match.make_actors, fixed seed) and
polls 10 farm feeds. Once it has started, it gets 100 SIGHUPs in one second; 10 s later a SIGTERM. Measured:
the reloads logged, the process's resident memory before the storm and its peak (VmHWM), and the seconds from
SIGTERM to its exit. `--before REV` measures the code of that git revision too (git archive, same virtualenv).
Results: benchmarks/results/reload.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_health import extract
from bench_match import make_actors, write_rules
from harness import ROOT, machine_info, start_farm

SIGNALS = 100
AFTER_STORM = 10.0


def memory_mb(pid: int, field: str) -> float:
    """A VmRSS / VmHWM figure of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(code: Path | None, config: Path, workdir: Path) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key not in ("MONITOR_CONFIG", "NOTIFY_SOCKET")}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    log = workdir / "daemon.log"
    log.unlink(missing_ok=True)
    with log.open("wb") as handle:
        started = time.monotonic()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )
        try:
            while "event=started" not in log.read_text(errors="replace"):
                if daemon.poll() is not None or time.monotonic() - started > 300:
                    raise RuntimeError(log.read_text(errors="replace")[-2000:])
                time.sleep(0.2)
            start_seconds = time.monotonic() - started
            time.sleep(3.0)
            rss_before = memory_mb(daemon.pid, "VmRSS")
            for _ in range(SIGNALS):
                daemon.send_signal(signal.SIGHUP)
                time.sleep(1.0 / SIGNALS)
            time.sleep(AFTER_STORM)
            peak = memory_mb(daemon.pid, "VmHWM")
            reloads_before_stop = log.read_text(errors="replace").count("event=reloaded")
            stopping = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=120)
            stop_seconds = time.monotonic() - stopping
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    text = log.read_text(errors="replace")
    return {
        "start_s": start_seconds,
        "rss_before_mb": rss_before,
        "peak_mb": peak,
        "reloads_before_stop": reloads_before_stop,
        "reloads": text.count("event=reloaded"),
        "stop_s": stop_seconds,
        "exit": daemon.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aliases", type=int, default=50_000)
    parser.add_argument("--before", help="a git revision to measure too (the code before a change)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reload.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    results: dict[str, Any] = {}
    try:
        actors = make_actors(args.aliases)
        (workdir / "rules").mkdir()
        write_rules(workdir / "rules", actors)
        with start_farm(10) as farm:
            lines = ['database = "monitor.db"', 'rules = "rules"', 'interval = "60s"', "[daemon]", 'watch = "0s"']
            for index, url in enumerate(farm.urls):
                lines += ["[[feeds]]", f'url = "{url}"', f'name = "feed {index}"']
            config = workdir / "monitor.toml"
            config.write_text("\n".join(lines) + "\n", encoding="utf-8")
            runs: list[tuple[str, Path | None]] = []
            if args.before:
                runs.append((f"before ({args.before})", extract(args.before, workdir / "before")))
            runs.append(("this code", None))
            for label, code in runs:
                results[label] = measure(code, config, workdir)
                print(label, results[label], flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    machine = machine_info()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    command = "benchmarks/bench_reload.py" + (f" --before {args.before}" if args.before else "")
    out = [
        "# Reload storm: 100 SIGHUPs in one second",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: `.venv/bin/python {command}`",
        f"- machine: {machine['cpu_model']}, {machine['cpus']} cores, {machine['kernel']}, Python "
        f"{machine['python']}; load average at the end: {load}",
        f"- a real `monitor run` with {args.aliases:,} generated aliases ({len(actors):,} actors) and 10 farm feeds; "
        f"{SIGNALS} SIGHUPs over 1 s, SIGTERM {AFTER_STORM:.0f} s later",
        "",
        "| code | start | reloads before SIGTERM / in all | RSS before the storm | peak RSS | SIGTERM to exit |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, result in results.items():
        out.append(
            f"| {label} | {result['start_s']:.1f} s | {result['reloads_before_stop']} / {result['reloads']} "
            f"| {result['rss_before_mb']:.0f} MB | {result['peak_mb']:.0f} MB | {result['stop_s']:.1f} s "
            f"(exit {result['exit']}) |"
        )
    args.out.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
