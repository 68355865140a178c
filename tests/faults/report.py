"""The fault suite's tally: every case tried adds a row; the session prints one table at the end.

tests/conftest.py prints `REPORT.table()` from its `pytest_terminal_summary` hook when any case ran, and writes
every row as JSON to $MONITOR_FAULT_ROWS when that is set. A crash is
a traceback, an internal-error exit (70) or a death by signal; a hang is a run killed at its time limit; an
alert lost is an expected alert that never reached the SMTP server; a duplicate is an alert the SMTP server
confirmed twice outside the at-least-once window (a kill between the server's 250 and the database mark),
which is counted apart as `resent in window`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    """One case as it went."""

    case: str
    category: str
    outcome: str
    seconds: float
    peak_mb: float = 0.0
    crashed: bool = False
    hung: bool = False
    lost: int = 0
    duplicates: int = 0
    resent_in_window: int = 0
    notable: bool = False  # printed on its own line in the table (whole-system cases)


@dataclass
class FaultReport:
    """Rows collected across the session (tests may run in any order)."""

    rows: list[Row] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, row: Row) -> None:
        """Record one case."""
        with self._lock:
            self.rows.append(row)

    def table(self) -> str:
        """The summary: totals first, then the slowest and heaviest cases."""
        with self._lock:
            rows = list(self.rows)
        if not rows:
            return ""
        peak = max(rows, key=lambda row: row.peak_mb)
        slowest = max(rows, key=lambda row: row.seconds)
        categories: dict[str, int] = {}
        for row in rows:
            categories[row.category] = categories.get(row.category, 0) + 1
        lines = [
            "fault injection (issue #6)",
            f"  cases tried       {len(rows)}  ({', '.join(f'{k} {n}' for k, n in sorted(categories.items()))})",
            f"  crashes           {sum(row.crashed for row in rows)}",
            f"  hangs             {sum(row.hung for row in rows)}",
            f"  alerts lost       {sum(row.lost for row in rows)}",
            f"  duplicates        {sum(row.duplicates for row in rows)}",
            f"  resent in window  {sum(row.resent_in_window for row in rows)}  (killed between SMTP 250 and the mark)",
            f"  peak memory       {peak.peak_mb:.0f} MB  ({peak.case})",
            f"  slowest case      {slowest.seconds:.1f} s  ({slowest.case})",
        ]
        for row in rows:
            if row.notable:
                lines.append(
                    f"  - {row.category}/{row.case}: {row.outcome} [{row.seconds:.1f} s, {row.peak_mb:.0f} MB]"
                )
        bad = [row for row in rows if row.crashed or row.hung or row.lost or row.duplicates]
        for row in bad:
            lines.append(f"  FAILED {row.category}/{row.case}: {row.outcome}")
        return "\n".join(lines)

    def dump(self, path: Path) -> None:
        """Write every row as JSON (the raw material of docs/robustness.md's tables)."""
        with self._lock:
            rows = [asdict(row) for row in self.rows]
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")


REPORT = FaultReport()
"""The session's report (module-level so every test adds to the same one)."""
