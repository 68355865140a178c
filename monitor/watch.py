"""Notice edits of the configuration file and the rule files, so the daemon can reload them (live reload).

A stat() poll, not inotify: every few seconds the service takes a `snapshot` of the configuration file and of
every `*.toml` in the rules directory (modification time in ns, size, inode) and compares it with the last one.
It costs a handful of system calls, needs no dependency, sees files replaced by editors (new inode), by `git
pull` or by configuration management, and works on network filesystems where inotify does not. `settled`
waits until an edit in progress has stopped changing the files, so a half-written file is not loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

Snapshot = dict[str, tuple[int, int, int]]
"""Path -> (mtime_ns, size, inode) of each watched file that exists."""

SETTLE_DELAY = 0.25
"""Seconds between two snapshots that must agree before a change is acted upon."""


def snapshot(config: Path | None, rules_dir: Path) -> Snapshot:
    """The state of the configuration file and of every rule file (`*.toml`) in `rules_dir`."""
    paths: list[Path] = [config] if config is not None else []
    with contextlib.suppress(OSError):  # a missing rules directory is reported by the reload that follows
        paths.extend(sorted(path for path in rules_dir.iterdir() if path.suffix == ".toml"))
    state: Snapshot = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        state[str(path)] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return state


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    """The files added, removed or modified between two snapshots, sorted."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


async def settled(config: Path | None, rules_dir: Path, current: Snapshot, *, attempts: int = 8) -> Snapshot:
    """Wait until two snapshots `SETTLE_DELAY` apart agree (an editor finished writing); return the last one."""
    for _ in range(attempts):
        await asyncio.sleep(SETTLE_DELAY)
        following = snapshot(config, rules_dir)
        if following == current:
            return following
        current = following
    return current
