"""Helpers of the reliability tests: process trees, a restartable Redis, the ledger, the report.

Every process these helpers signal is one the test started, or a child of one
(found through ``/proc``), and every one is addressed by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from servers import LOOPBACK, free_port, redis_answers, unavailable, wait_until

#: One line per fault of this run, printed at the end of the pytest run.
REPORTS: list[str] = []


# -- processes -------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (from ``/proc``; Linux only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (``VmRSS`` of ``/proc/<pid>/status``), 0 if gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its children, in KiB."""
    return rss_kib(pid) + sum(rss_kib(child) for child in children(pid))


def kill_tree(process: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL a process this test started and its children, at once; returns the PIDs.

    The children are listed before the parent dies (an orphan gets another
    parent), then the parent is killed first, so that it cannot react to a
    child's death by requeuing its task: the whole worker is gone as in a crash.
    """
    kids = children(process.pid)
    process.send_signal(signal.SIGKILL)
    for kid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(kid, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{kid}").exists() for kid in kids):
        # Orphans are reaped by init; zombies still have a /proc entry with state Z.
        if all(_state(kid) in ("Z", None) for kid in kids):
            break
        time.sleep(0.05)
    return [process.pid, *kids]


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    return _state(pid) not in ("Z", "X", None)


# -- a Redis that can be stopped and started again on the same port -------------------


class RestartableRedis:
    """A private redis-server on a fixed free loopback port, with its data on disk.

    Append-only file with ``appendfsync always``: what Redis acknowledged
    survives a restart, even after SIGKILL, as a production broker should.
    """

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            unavailable("redis-server is not installed, so no private Redis can be started")
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="appfactory-redis-")
        self.url = f"redis://{LOOPBACK}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(self.folder) / "redis.log"
        self.start()

    def start(self) -> None:
        command = [self.binary or "redis-server", "--port", str(self.port),
                   "--bind", LOOPBACK, "--save", "", "--appendonly", "yes",
                   "--appendfsync", "always", "--dir", self.folder,
                   "--logfile", str(self.log)]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_until(lambda: redis_answers(self.port), 15):
            self.stop()
            raise AssertionError(f"redis-server on port {self.port} did not answer within 15 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGTERM: clean shutdown; SIGKILL: a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


# -- the ledger of task runs and the report --------------------------------------------


@dataclass
class Tally:
    """What became of the tasks sent under one fault."""

    fault: str
    sent: int
    completed: int
    duplicates: int
    lost: int
    #: Runs that began but did not complete (a killed process), summed over tasks.
    interrupted: int
    #: Runs that began from a message the broker delivered again.
    redelivered: int
    failed_sends: int = 0
    extra: dict[str, t.Any] = field(default_factory=dict)

    def line(self) -> str:
        parts = [
            f"sent={self.sent}",
            f"completed={self.completed}",
            f"duplicates={self.duplicates}",
            f"lost={self.lost}",
            f"interrupted={self.interrupted}",
            f"redelivered={self.redelivered}",
        ]
        if self.failed_sends:
            parts.append(f"failed_sends={self.failed_sends}")
        parts += [f"{key}={value}" for key, value in self.extra.items()]
        return f"{self.fault}: " + " ".join(parts)


class Ledger:
    """The ledger written by ``wledger.tasks.record`` (a Redis database)."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self.client.flushdb()

    def done(self) -> int:
        return int(self.client.scard("done"))

    def runs(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.client.hgetall("runs").items()}

    def started(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.client.hgetall("started").items()}

    def redelivered(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.client.hgetall("redelivered").items()}

    def running(self) -> dict[int, str]:
        """Process id -> task id of the runs under way."""
        return {int(k): v.decode() for k, v in self.client.hgetall("running").items()}

    def wait_done(self, expected: int, seconds: float, quiet: float = 0.0) -> bool:
        """Wait until ``expected`` tasks completed, then ``quiet`` seconds more.

        The quiet time lets late duplicates show up before the tally.
        """
        reached = wait_until(lambda: self.done() >= expected, seconds)
        if reached and quiet:
            time.sleep(quiet)
        return reached

    def tally(
        self,
        fault: str,
        sent: t.Collection[str],
        failed_sends: int = 0,
        **extra: t.Any,
    ) -> Tally:
        """Count what became of the ``sent`` task ids, and report it."""
        runs = self.runs()
        started = self.started()
        redelivered = self.redelivered()
        completed = sum(1 for task_id in sent if runs.get(task_id, 0) >= 1)
        duplicates = sum(max(runs.get(task_id, 0) - 1, 0) for task_id in sent)
        interrupted = sum(
            max(started.get(task_id, 0) - runs.get(task_id, 0), 0) for task_id in sent
        )
        tally = Tally(
            fault,
            sent=len(sent),
            completed=completed,
            duplicates=duplicates,
            lost=len(sent) - completed,
            interrupted=interrupted,
            redelivered=sum(redelivered.get(task_id, 0) for task_id in sent),
            failed_sends=failed_sends,
            extra=extra,
        )
        report(tally.line())
        return tally


def report(line: str) -> None:
    """Print a figure now and keep it for the summary at the end of the run."""
    REPORTS.append(line)
    print(f"RELIABILITY {line}", flush=True)
