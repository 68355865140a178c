"""Run many `monitor` command lines as real processes for the price of one interpreter start.

    python tests/faults/cli_driver.py [--parallel N] [--timeout S] < cases.json > results.json

Reads [{"key": ..., "argv": [...], "cwd": ...}, ...] on stdin; imports monitor's CLI once, then forks one child
per case that runs `monitor.cli.main(argv)` with its stdout and stderr sent to files at the descriptor level, as
a separate `monitor` process would (N children at a time). A child still running after S seconds is killed and
reported hung. Writes {"key": {"code", "stdout", "stderr", "seconds", "peak_mb", "hung"}} on stdout; peak_mb is
the child's own ru_maxrss from wait4 (it includes the pages it shares with the driver).
The fault suite uses it for its many hostile files and bad configurations.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from typing import IO, Any


def start_case(argv: list[str], cwd: str, out: IO[bytes], err: IO[bytes]) -> int:
    """Fork a child that runs the CLI with fresh stdout/stderr files; returns its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70  # the child from here on: never returns
    try:
        os.chdir(cwd)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        from monitor.cli import main

        main(argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_all(cases: list[dict[str, Any]], parallel: int, timeout: float) -> dict[str, dict[str, Any]]:
    """Run every case, `parallel` at a time; collect exit codes, output, time, peak memory, hangs."""
    results: dict[str, dict[str, Any]] = {}
    queue = list(cases)
    running: dict[int, tuple[dict[str, Any], IO[bytes], IO[bytes], float, bool]] = {}
    while queue or running:
        while queue and len(running) < parallel:
            case = queue.pop(0)
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 (closed when reaped)
            pid = start_case(case["argv"], case["cwd"], out, err)
            running[pid] = (case, out, err, time.monotonic(), False)
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if not pid:
            now = time.monotonic()
            for child, (case, out, err, started, hung) in list(running.items()):
                if not hung and now - started > timeout:
                    os.kill(child, signal.SIGKILL)
                    running[child] = (case, out, err, started, True)
            time.sleep(0.01)
            continue
        case, out, err, started, hung = running.pop(pid)
        out.seek(0)
        err.seek(0)
        results[case["key"]] = {
            "code": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
            "seconds": time.monotonic() - started,
            "peak_mb": usage.ru_maxrss / 1024,
            "hung": hung,
        }
        out.close()
        err.close()
    return results


def main() -> None:
    """Read the cases, run each in its own process, print the results as one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0)
    options = parser.parse_args()
    import monitor.cli
    import monitor.config
    import monitor.match
    import monitor.parse
    import monitor.pipeline
    import monitor.rules
    import monitor.service

    del monitor
    cases = json.load(sys.stdin)
    sys.stdout.write(json.dumps(run_all(cases, options.parallel, options.timeout)))


if __name__ == "__main__":
    main()
