"""The trivial tasks' only work: one byte appended to a file, counted by the sender.

Appends of one byte to a file opened with ``O_APPEND`` are atomic, so the
file's size is the number of completed tasks whatever the pool; the sender
polls it to see the last completion, with no result backend in the way.
"""

from __future__ import annotations

import os

_fd: int | None = None


def record() -> None:
    """Count one completed task in ``BENCH_COUNTER_FILE``."""
    global _fd
    if _fd is None:
        _fd = os.open(
            os.environ["BENCH_COUNTER_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
        )
    os.write(_fd, b".")


def count(path: str) -> int:
    """How many tasks completed so far."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
