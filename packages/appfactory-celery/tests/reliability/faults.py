"""Helpers of the reliability tests: process trees, a restartable Redis, the ledger, the report.

Every process these helpers signal is one the test started, or a child of one
(found through ``/proc``), and every one is addressed by its PID.
"""

from __future__ import annotations

import contextlib
import os
import re
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

#: A task id in a message, as kombu's Redis transport writes it (JSON headers).
_TASK_ID = re.compile(rb'"id": "([^"]+)"')


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
    The file is stamped with the time (``aof-timestamp-enabled``), so that
    :func:`broker_history` can tell when each step of a message happened.
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
                   "--appendfsync", "always", "--aof-timestamp-enabled", "yes",
                   "--dir", self.folder,
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


# -- what Redis's append-only file says became of a message ---------------------------


def _resp_commands(data: bytes) -> t.Iterator[tuple[int | None, list[bytes]]]:
    """The commands of an append-only file, with the time of the last ``#TS:`` line."""
    at, stamp = 0, None
    while at < len(data):
        if data[at : at + 1] == b"#":
            end = data.index(b"\n", at)
            if data[at : at + 4] == b"#TS:":
                stamp = int(data[at + 4 : end])
            at = end + 1
            continue
        end = data.index(b"\r\n", at)
        count, at = int(data[at + 1 : end]), end + 2
        args = []
        for _ in range(count):
            end = data.index(b"\r\n", at)
            size, at = int(data[at + 1 : end]), end + 2
            args.append(data[at : at + size])
            at += size + 2
        yield stamp, args


def _task_id(payload: bytes) -> str | None:
    found = _TASK_ID.search(payload)
    return found.group(1).decode() if found else None


def broker_history(folder: str | Path, task_ids: t.Collection[str]) -> dict[str, list[str]]:
    """What a Redis append-only file says happened to the messages of ``task_ids``.

    The file's lists are replayed in order, so that each pop is tied to the
    message it took. Events: ``pushed`` (sent, or put back), ``popped``
    (taken by a worker), ``recorded`` (as unacknowledged) and ``settled``
    (its record removed: acknowledged, or put back in the queue).
    """
    wanted = set(task_ids)
    history: dict[str, list[str]] = {task_id: [] for task_id in wanted}
    lists: dict[bytes, list[bytes]] = {}
    tags: dict[bytes, str] = {}

    def note(task_id: str | None, event: str, stamp: int | None) -> None:
        if task_id in wanted:
            when = time.strftime("%H:%M:%S", time.localtime(stamp)) if stamp else "?"
            history[task_id].append(f"{when} {event}")

    manifest = Path(folder) / "appendonlydir"
    for part in sorted(manifest.glob("*.incr.aof"), key=lambda path: int(path.name.split(".")[2])):
        for stamp, (command, *args) in _resp_commands(part.read_bytes()):
            name = command.upper()
            if name in (b"LPUSH", b"RPUSH"):
                items = lists.setdefault(args[0], [])
                for value in args[1:]:
                    items.insert(0, value) if name == b"LPUSH" else items.append(value)
                    note(_task_id(value), f"pushed to {args[0].decode(errors='replace')}", stamp)
            elif name in (b"RPOP", b"LPOP") and lists.get(args[0]):
                value = lists[args[0]].pop() if name == b"RPOP" else lists[args[0]].pop(0)
                note(_task_id(value), "popped", stamp)
            elif name == b"HSET" and args[0].endswith(b"unacked"):
                tags[args[1]] = _task_id(args[2]) or ""
                note(tags[args[1]], "recorded as unacknowledged", stamp)
            elif name == b"HDEL" and args[0].endswith(b"unacked"):
                for tag in args[1:]:
                    note(tags.get(tag), "settled", stamp)
            elif name == b"DEL":
                for key in args:
                    lists.pop(key, None)
    return history
