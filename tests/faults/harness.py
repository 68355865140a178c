"""Process and server plumbing of the fault suite: measured `monitor` runs, a daemon handle, a faulty SMTP server.

`run_measured` runs `python -m monitor ...` as a real process and reaps it with wait4(), which gives that one
child's peak resident memory (ru_maxrss) without psutil; a run past its time limit is killed and marked hung.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from monitor.model import SEVERITIES
from tests.faults.bodies import RULES
from tests.smtpserver import ReceivedMail, SMTPServer, _Collector

REPO = Path(__file__).resolve().parent.parent.parent
MARKER = re.compile(r"\[([a-z0-9][a-z0-9-]*[a-z0-9])\]")


def monitor_env() -> dict[str, str]:
    """The environment for monitor processes: no inherited config, no systemd socket."""
    return {key: value for key, value in os.environ.items() if key not in ("MONITOR_CONFIG", "NOTIFY_SOCKET")}


def monitor_command(*args: str) -> list[str]:
    """`python -m monitor ARGS` with this interpreter."""
    return [sys.executable, "-m", "monitor", *args]


@dataclass(frozen=True)
class Measured:
    """A finished (or killed) process: exit code, output, wall time and its own peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float
    hung: bool

    @property
    def crashed(self) -> bool:
        """A traceback, an internal-error exit or a death by signal (a kill for hanging is not a crash)."""
        if self.hung:
            return False
        return "Traceback" in self.stderr or self.returncode == 70 or self.returncode < 0

    @property
    def error_lines(self) -> list[str]:
        """The non-empty stderr lines."""
        return [line for line in self.stderr.splitlines() if line.strip()]


PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def tree_rss_mb(root: int) -> float:
    """Memory of `root` and all its descendants (parse workers included), in MB, from /proc: the sum of their
    proportional set sizes, so pages a forked worker shares with its parent count once."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(_own_mb(pid) for pid in tree)


def _own_mb(pid: int) -> float:
    """A process's proportional set size (shared pages split among their users), else its RSS, in MB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def high_water_mb(pid: int) -> float:
    """The peak resident memory of one process since it last exec'd (VmHWM), in MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def _reap(pid: int, timeout: float, on_timeout: Callable[[], None]) -> tuple[int, float, bool]:
    """Wait for `pid`, killing it via `on_timeout` after `timeout` s: (wait status, peak MB, hung).

    The peak is the larger of the process's own high-water mark (VmHWM, read every 0.1 s until it exits) and
    the largest memory of its whole process tree seen meanwhile (its parse workers too; see `tree_rss_mb`).
    wait4's ru_maxrss is no use here: it still counts the pages of the test process the child was forked from.
    """
    started = time.monotonic()
    hung = False
    peak = 0.0
    next_sample = 0.0
    while True:
        done, status, _ = os.wait4(pid, os.WNOHANG)
        if done:
            return status, peak, hung
        now = time.monotonic()
        if now >= next_sample:
            peak = max(peak, high_water_mb(pid), tree_rss_mb(pid))
            next_sample = now + 0.1
        if not hung and now - started > timeout:
            hung = True
            on_timeout()
        time.sleep(0.02)


LIMITS = """
import os, resource, signal, sys
file_size, cpus = int(sys.argv[1]), int(sys.argv[2])
if file_size:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # kept across exec: a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
if cpus:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])
os.execv(sys.argv[3], sys.argv[3:])
"""
"""Exec a command with every file capped at argv[1] bytes (RLIMIT_FSIZE; 0: no cap) on at most argv[2] CPUs."""


def run_measured(
    args: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    file_size_limit: int | None = None,
    cpus: int | None = None,
) -> Measured:
    """Run a command to completion (killed after `timeout` s), measuring its time and peak memory.

    `file_size_limit` sets RLIMIT_FSIZE in the child (with SIGXFSZ ignored): writes past that many bytes in any
    file fail with EFBIG, which is how the suite makes a disk "full" without root. `cpus` pins the child to that
    many CPUs (run --once starts one parse worker per CPU it may use, so its memory grows with them).
    """
    command = list(args)
    if file_size_limit is not None or cpus is not None:
        command = [sys.executable, "-c", LIMITS, str(file_size_limit or 0), str(cpus or 0), *command]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=cwd, env=env if env is not None else monitor_env(), stdout=out, stderr=err
        )
        status, peak_mb, hung = _reap(process.pid, timeout, process.kill)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        return Measured(
            returncode=process.returncode,
            stdout=_read(out),
            stderr=_read(err),
            seconds=seconds,
            peak_mb=peak_mb,
            hung=hung,
        )


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


class DaemonProcess:
    """`monitor --config CONFIG run` as a real process; stderr (the log) goes to a file that can be waited on.

    `cpus` pins it to that many CPUs (through the LIMITS exec wrapper, so its pid stays the daemon's); `env`
    adds variables to its environment.
    """

    def __init__(self, config: Path, log: Path, *, cpus: int | None = None, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_handle = log.open("ab")
        self.started = time.monotonic()
        command = monitor_command("--config", str(config), "run")
        if cpus is not None:  # the daemon starts one parse worker per CPU it may use
            command = [sys.executable, "-c", LIMITS, "0", str(cpus), *command]
        self.process = subprocess.Popen(
            command,
            cwd=config.parent,
            env={**monitor_env(), **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=self._log_handle,
        )
        self.peak_mb = 0.0
        self.returncode: int | None = None

    def text(self) -> str:
        """Everything logged so far (by every daemon sharing this log file)."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, *, count: int = 1, timeout: float = 20.0) -> bool:
        """Wait until `needle` appears `count` times in the log (or the process ends, or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(needle) >= count:
                return True
            if self.process.poll() is not None:
                return self.text().count(needle) >= count
            time.sleep(0.05)
        return False

    def send(self, signum: int) -> None:
        """Send a signal (SIGHUP to reload, SIGKILL to crash it)."""
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `signum`, reap the process (SIGKILL after `timeout`), return its exit code."""
        if self.returncode is None:
            self.process.send_signal(signum)
            try:
                status, self.peak_mb, _ = _reap(self.process.pid, timeout, self.process.kill)
                self.returncode = self.process.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                # Popen reaped it first: send_signal polls, from whichever thread sends (a kill fired by the
                # SMTP server's thread right after its 250 can land just before this stop).
                self.returncode = self.process.wait(timeout)
            self._log_handle.close()
        return self.returncode


class FaultyCollector(_Collector):
    """An aiosmtpd handler that can be slow or reject, and tells confirmed mail from mail cut off mid-DATA.

    `mode`: "accept" (250), "reject" (550 to DATA). `delay` seconds pass before the answer; a client that
    disconnects meanwhile cancels the handler (aiosmtpd does), and that message is counted in `aborted`, not
    received: the server never confirmed it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mode = "accept"
        self.delay = 0.0
        self.aborted = 0
        self.rejected = 0
        self.confirmed_at: list[float] = []
        # Called once, right after the next confirmation's 250 is written: the kill test's trigger.
        self.after_next_confirm: Callable[[], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Wait, then reject, or keep the message and confirm it (the 250 follows at once)."""
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.aborted += 1
            raise
        if self.mode == "reject":
            self.rejected += 1
            return "550 5.7.1 Message rejected by policy (fault injection)"
        reply = await super().handle_DATA(server, session, envelope)
        self.confirmed_at.append(time.time())
        if self.after_next_confirm is not None:
            # Runs on the loop's next turn: after aiosmtpd has written this 250 to the socket.
            asyncio.get_running_loop().call_soon(self.after_next_confirm)
            self.after_next_confirm = None
        return reply


class FaultySMTP(SMTPServer):
    """tests.smtpserver.SMTPServer with a FaultyCollector: `faults.mode`, `faults.delay`."""

    def __init__(self) -> None:
        super().__init__()
        self.faults = FaultyCollector()
        self._collector = self.faults


def markers(mail: ReceivedMail) -> set[str]:
    """The case markers ("[name]") a mail carries in its subject or its text."""
    text = f"{mail.message['Subject']}\n{mail.part('text/plain') or ''}\n{mail.part('text/html') or ''}"
    return set(MARKER.findall(text)) - set(SEVERITIES)  # subjects start with "[high]"


def write_rules(directory: Path) -> Path:
    """The fault suite's rules (bodies.RULES) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "militias.toml").write_text(RULES, encoding="utf-8")
    return directory


def write_config(
    directory: Path,
    feeds: Sequence[tuple[str, str]],
    targets: Sequence[str],
    *,
    fetch: dict[str, str] | None = None,
    extra: str = "",
    database: str = "state/monitor.db",
) -> Path:
    """A monitor.toml in `directory` for (name, url) feeds and apprise target URLs; `fetch` sets [fetch] keys."""
    write_rules(directory / "rules")
    lines = [f'database = "{database}"', 'rules = "rules"', 'backfill = "24h"', extra]
    if fetch:
        lines.append("[fetch]")
        lines += [f'{key} = "{value}"' for key, value in fetch.items()]
    for name, url in feeds:
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"']
    for index, url in enumerate(targets):
        lines += ["[[targets]]", f'name = "t{index + 1}"', f'url = "{url}"']
    path = directory / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SHORT_FETCH = {"deadline": "20s", "connect_timeout": "5s", "read_timeout": "10s"}
"""Shorter fetch limits for the daemon runs, whose first polls are spread over the first seconds anyway.

The deadline is wall time, and the event loop that reads a body also records other feeds' entries: with every
case at once on two busy cores, 5 s was too short for the 8 MB bodies (docs/robustness.md).
"""


def run_forked(
    cases: Sequence[tuple[str, Sequence[str], Path]], *, parallel: int = 2, timeout: float = 60.0
) -> dict[str, Measured]:
    """Run (key, monitor argv, cwd) cases as separate processes forked by one driver (tests/faults/cli_driver.py).

    One interpreter start for all of them: each case is still its own process running `monitor.cli.main`,
    with its own exit code, stdout, stderr, time limit and peak memory.
    """
    payload = [{"key": key, "argv": list(argv), "cwd": str(cwd)} for key, argv, cwd in cases]
    driver = [sys.executable, str(REPO / "tests" / "faults" / "cli_driver.py")]
    options = ["--parallel", str(parallel), "--timeout", str(timeout)]
    done = subprocess.run(
        driver + options,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=monitor_env(),
        timeout=timeout * len(cases) + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the CLI driver failed: {done.stderr[-2000:]}")
    return {
        key: Measured(
            returncode=result["code"],
            stdout=result["stdout"],
            stderr=result["stderr"],
            seconds=result["seconds"],
            peak_mb=result["peak_mb"],
            hung=result["hung"],
        )
        for key, result in json.loads(done.stdout).items()
    }
