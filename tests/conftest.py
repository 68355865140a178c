"""Shared pytest fixtures: real servers on 127.0.0.1 for the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.hookserver import HookServer
from tests.smtpserver import SMTPServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer on 127.0.0.1 (port 0), closed after the test."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def hook() -> Iterator[HookServer]:
    """A started webhook endpoint (HookServer) on 127.0.0.1 (port 0), stopped after the test."""
    with HookServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A started SMTPServer (aiosmtpd) on 127.0.0.1 (port 0), stopped after the test."""
    with SMTPServer() as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fault-injection table (tests/test_faults.py) when any of its cases ran."""
    from tests.faults.report import REPORT

    table = REPORT.table()
    if table:
        terminalreporter.write_sep("=", "fault injection summary")
        terminalreporter.write_line(table)
        if os.environ.get("MONITOR_FAULT_ROWS"):
            REPORT.dump(Path(os.environ["MONITOR_FAULT_ROWS"]))
