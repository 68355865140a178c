"""The systemd unit: systemd-analyze verifies it and rates its exposure 2.0 or lower; it matches the daemon.

The systemd-analyze checks are skipped where the tool is missing. `verify` checks that ExecStart names an
executable, so it runs on a copy whose ExecStart is this Python (`-m monitor`) instead of /opt/monitor.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import DaemonSettings, parse_duration

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "monitor.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def directives(text: str) -> dict[str, list[str]]:
    """Key -> values of a unit file (keys may repeat); comments and section headers left out."""
    found: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


@needs_analyze
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit (a copy whose ExecStart names an existing executable)."""
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/monitor/bin/monitor " in text
    copy = tmp_path / "monitor.service"
    copy.write_text(text.replace("ExecStart=/opt/monitor/bin/monitor ", f"ExecStart={sys.executable} -m monitor "))
    assert ANALYZE is not None
    result = subprocess.run([ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@needs_analyze
def test_unit_exposure_is_at_most_2(tmp_path: Path) -> None:
    """`systemd-analyze security --offline=true` rates the unit's exposure 2.0 or lower ("OK")."""
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    if "--offline" in result.stderr and result.returncode != 0:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    found = re.search(r"Overall exposure level for monitor\.service: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0, result.stdout


def test_unit_runs_the_daemon_as_type_notify_with_watchdog_reload_and_restart() -> None:
    """The unit is Type=notify with a watchdog, reloads with SIGHUP, restarts on failure, and fits the daemon."""
    unit = directives(UNIT.read_text(encoding="utf-8"))
    assert unit["Type"] == ["notify"]
    assert unit["NotifyAccess"] == ["main"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["Restart"] == ["on-failure"]
    # A configuration error, or the database deleted under the daemon: restarting cannot help.
    assert unit["RestartPreventExitStatus"] == ["2 5"]
    [start] = unit["ExecStart"]
    assert start.endswith("--config /etc/monitor/monitor.toml run")
    assert unit["StateDirectory"] == ["monitor"]
    assert unit["ConfigurationDirectory"] == ["monitor"]
    assert "EnvironmentFile" in unit
    watchdog = parse_duration(unit["WatchdogSec"][0])
    stop_timeout = parse_duration(unit["TimeoutStopSec"][0])
    assert watchdog is not None
    assert stop_timeout is not None
    defaults = DaemonSettings()
    # systemd must not kill a stop that is still inside the daemon's own deadline.
    assert stop_timeout >= defaults.stop_timeout + 5
    # The pings (every WatchdogSec/2) must outlast a 30 s SQLite busy wait on the event loop.
    assert watchdog / 2 > 30
