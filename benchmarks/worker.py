"""Real workers: ``worker_redis``, ``worker_embedded``, ``embedded_round_trip_latency``.

In every round, for each pool (``prefork -c 2`` and ``solo``) and each system
in alternating order, a ``celery worker`` process is started, then a sender
process sends a warm-up task, waits for it (the worker is then up), and times
the sending of ``tasks`` trivial tasks until the last one has completed. A
trivial task appends one byte to a file (:mod:`benchmarks.apps.counter`), so
completions are counted without a result backend in the way. The figure is
tasks per second from the first send to the last completion.

* ``worker_redis``: floor plain Celery with ours' Celery settings (late
  acks, reject on worker lost, JSON only, bounded retries:
  :mod:`benchmarks.apps.celery_settings`), ours ``celeryfactory(create_app())``,
  peer Flask-CeleryExt as shipped, peer2 Flask's own pattern
  (``celery_init_app``) with the floor's settings, all over the same Redis (a
  private ``redis-server`` on a free loopback port when one is installed);
* ``worker_safe_defaults``: what the settings cost on their own: plain Celery
  with Celery's defaults (the floor) against the same app with ours' settings;
* ``worker_embedded``: ours over the embedded broker (the SQLite store under
  the instance folder) against ours over Redis, same round; the goal is a
  drain in at most twice Redis's time (at least half its throughput);
* ``embedded_round_trip_latency``: after the timed tasks, ours sends single
  tasks to the idle worker and times each until its result can be read; the
  figure is the median, over Redis (the floor) and over the embedded broker.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    Case,
    Context,
    Goal,
    Metric,
    SystemFailed,
    emit,
    round_order,
    tail,
)
from benchmarks.synthetic import instance_variable

METRICS = (
    "worker_redis",
    "worker_safe_defaults",
    "worker_embedded",
    "embedded_round_trip_latency",
)
GOAL_THROUGHPUT = 0.95
#: The embedded broker drains at least half as fast as Redis (at most 2x the time).
GOAL_EMBEDDED_THROUGHPUT = 0.5
GOAL_LATENCY = 0.020
LOOPBACK = "127.0.0.1"
#: Used only when no private Redis can be started: a database index of its own.
SHARED_REDIS = f"redis://{LOOPBACK}:6379/13"
POOLS = {"prefork_c2": ("prefork", 2), "solo": ("solo", 1)}
#: ``system: (module under benchmarks.apps, task name, broker)``
SYSTEMS = {
    "floor": ("plain_celery", "floor.trivial", "redis"),
    "ours": ("ours_celery", "bench.trivial", "redis"),
    "peer": ("peer_celery", "peer.trivial", "redis"),
    "peer2": ("flask_celery", "flask.trivial", "redis"),
    "bare": ("bare_celery", "bare.trivial", "redis"),
    "embedded": ("ours_celery", "bench.trivial", "embedded"),
}
#: Seconds a worker may take to start and run the warm-up task.
START_TIMEOUT = 120


# -- the sender (a child process) --------------------------------------------------------


def wait_for_count(path: str, count: int, timeout: float, interval: float = 0.002) -> float:
    """Wait until ``count`` tasks have completed; the moment it was seen."""
    from benchmarks.apps.counter import count as completed

    deadline = time.monotonic() + timeout
    while True:
        now = time.perf_counter()
        if completed(path) >= count:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(f"{completed(path)} of {count} tasks completed after {timeout} s")
        time.sleep(interval)


def send(
    module: str, task: str, queue: str, tasks: int, probes: int, counter: str
) -> dict[str, t.Any]:
    """The sender's work: warm up, time ``tasks`` tasks, then ``probes`` single round trips."""
    import importlib

    celery = importlib.import_module(f"benchmarks.apps.{module}").celery
    celery.send_task(task, queue=queue)
    wait_for_count(counter, 1, START_TIMEOUT)
    start = time.perf_counter()
    for _ in range(tasks):
        celery.send_task(task, queue=queue)
    end = wait_for_count(counter, tasks + 1, 600)
    latencies = []
    for index in range(probes):
        # Idle gaps that do not line up with a broker's polling interval.
        time.sleep(0.15 + (index % 5) * 0.037)
        began = time.perf_counter()
        result = celery.send_task(task, queue=queue)
        while not result.ready():
            if time.perf_counter() - began > 60:
                raise TimeoutError(f"no result of {task} after 60 s")
            time.sleep(0.001)
        latencies.append(time.perf_counter() - began)
    return {"seconds": end - start, "latencies": latencies}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--module", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--probes", type=int, default=0)
    parser.add_argument("--counter", required=True)
    args = parser.parse_args(argv)
    emit(send(args.module, args.task, args.queue, args.tasks, args.probes, args.counter))


# -- brokers and workers (in the driver) -------------------------------------------------


@dataclass
class Redis:
    """A Redis URL, and the server process when this run started it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    folder: str | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def answers(port: int) -> bool:
    """Whether a Redis server answers PING on the loopback ``port``."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> Redis | None:
    """A private redis-server on a free loopback port, else the shared one on 6379, else None."""
    binary = shutil.which("redis-server")
    if binary is not None:
        port = free_port()
        folder = tempfile.mkdtemp(prefix="appfactory-bench-redis-")
        command = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "",
                   "--appendonly", "no", "--dir", folder]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = Redis(f"redis://{LOOPBACK}:{port}/0", process, folder)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if answers(port):
                return server
            time.sleep(0.05)
        server.stop()
    if answers(6379):
        return Redis(SHARED_REDIS)
    return None


class Worker:
    """A ``celery worker`` process started by the benchmark (stopped by its PID)."""

    def __init__(self, module: str, pool: str, concurrency: int, queue: str, env: dict[str, str],
                 log: Path) -> None:  # fmt: skip
        command = [
            sys.executable, "-m", "celery", "-A", f"benchmarks.apps.{module}", "worker",
            "-P", pool, "-c", str(concurrency), "-Q", queue,
            "-n", f"bench-{uuid.uuid4().hex[:8]}@localhost", "--loglevel=WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it does not end in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log_file.close()

    def output(self) -> str:
        return tail(self.log.read_text(errors="replace"))


def one_run(ctx: Context, system: str, pool: str, redis: Redis, tasks: int, probes: int
            ) -> dict[str, t.Any]:  # fmt: skip
    """Start a worker of ``system``, send the tasks from a child, stop the worker."""
    module, task, broker = SYSTEMS[system]
    folder = ctx.workspace.folder(f"worker-{system}")
    counter = folder / "completed"
    queue = f"bench-{uuid.uuid4().hex[:12]}"
    variables = {
        **instance_variable(folder / "instance"),
        "BENCH_COUNTER_FILE": str(counter),
        "BENCHAPP_CELERY_RESULT_EXPIRES": "600",
    }
    if broker == "redis":
        variables["BENCH_BROKER_URL"] = redis.url
        variables["BENCHAPP_CELERY_BROKER_URL"] = redis.url
    env = ctx.env([ctx.workspace.packages(0)], variables, peer=False)
    name, concurrency = POOLS[pool]
    worker = Worker(module, name, concurrency, queue, env, folder / "worker.log")
    args = ["--module", module, "--task", task, "--queue", queue, "--tasks", str(tasks),
            "--probes", str(probes), "--counter", str(counter)]  # fmt: skip
    command = [sys.executable, "-m", __name__, *args]
    sender = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        # A worker that dies must fail the run at once, not after the sender's timeout.
        while sender.poll() is None:
            if worker.process.poll() is not None:
                raise SystemFailed(
                    f"the {system} worker exited with {worker.process.returncode}:\n"
                    f"{worker.output()}"
                )
            time.sleep(0.2)
        out, err = sender.communicate()
        if sender.returncode != 0:
            raise SystemFailed(
                f"{' '.join(command)} exited with {sender.returncode}:\n{tail(err)}\n"
                f"worker output:\n{worker.output()}"
            )
        return t.cast(dict[str, t.Any], json.loads(out.strip().splitlines()[-1]))
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.communicate()
        worker.stop()


def run(ctx: Context) -> list[Metric]:
    tasks = ctx.pick(5000, 300)
    probes = ctx.pick(20, 3)
    rounds = ctx.pick(5, 2)
    redis_metric = Metric(
        name="worker_redis",
        title=f"real worker: {tasks} trivial tasks over Redis, first send to last completion",
        unit="tasks/s",
        better="higher",
        systems={
            "floor": "plain Celery app, ours' Celery settings (not our consumer)",
            "ours": "celeryfactory(create_app()) (AppContextTask, safe defaults)",
            "peer": "Flask-CeleryExt as shipped (its AppContextTask)",
            "peer2": "Flask's docs: celery_init_app, FlaskTask (floor's settings)",
        },
        goal=f"ours/floor >= {GOAL_THROUGHPUT:.2f}",
    )
    defaults_metric = Metric(
        name="worker_safe_defaults",
        title=f"real worker: {tasks} trivial tasks over Redis, what the safe settings cost",
        unit="tasks/s",
        better="higher",
        systems={
            "floor": "plain Celery app, Celery's own defaults",
            "ours": "the same app with ours' safe Celery settings (late acks...)",
        },
        goal="reported (no goal)",
    )
    embedded_metric = Metric(
        name="worker_embedded",
        title=f"real worker: {tasks} trivial tasks over the embedded broker",
        unit="tasks/s",
        better="higher",
        systems={"floor": "ours over Redis (same round)", "ours": "ours over the embedded broker"},
        goal=f"ours/floor >= {GOAL_EMBEDDED_THROUGHPUT:.2f} (a drain in at most 2x Redis's time)",
    )
    latency_metric = Metric(
        name="embedded_round_trip_latency",
        title="one task sent to an idle worker until its result can be read",
        unit="s",
        better="lower",
        systems={"floor": "ours over Redis", "ours": "ours over the embedded broker"},
        goal=f"ours median <= {GOAL_LATENCY * 1000:g} ms",
    )
    metrics = [redis_metric, defaults_metric, embedded_metric, latency_metric]
    redis = start_redis()
    if redis is None:
        reason = "no Redis: redis-server is not installed and none answers on 127.0.0.1:6379"
        for metric in metrics:
            metric.cases = [Case(pool, skipped=reason) for pool in POOLS]
        return metrics
    try:
        for pool in POOLS:
            throughput: dict[str, list[float]] = {system: [] for system in SYSTEMS}
            latency: dict[str, list[float]] = {"ours": [], "embedded": []}
            for index in range(rounds):
                for system in round_order(list(SYSTEMS), index):
                    ctx.log(f"worker: {pool}, round {index + 1}/{rounds}, {system}")
                    wanted = probes if system in latency else 0
                    result = one_run(ctx, system, pool, redis, tasks, wanted)
                    throughput[system].append(tasks / result["seconds"])
                    if wanted:
                        latency[system].append(statistics.median(result["latencies"]))
            redis_metric.cases.append(
                Case(pool, {s: throughput[s] for s in ("floor", "ours", "peer", "peer2")},
                     Goal.ratio_at_least(GOAL_THROUGHPUT))
            )  # fmt: skip
            defaults_metric.cases.append(
                Case(pool, {"floor": throughput["bare"], "ours": throughput["floor"]})
            )
            embedded_metric.cases.append(
                Case(pool, {"floor": throughput["ours"], "ours": throughput["embedded"]},
                     Goal.ratio_at_least(GOAL_EMBEDDED_THROUGHPUT))
            )  # fmt: skip
            latency_metric.cases.append(
                Case(pool, {"floor": latency["ours"], "ours": latency["embedded"]},
                     Goal.median_at_most(GOAL_LATENCY, "s"))
            )  # fmt: skip
        note = f"{tasks} tasks per run; Redis at {redis.url}" + (
            " (private server)" if redis.process is not None else " (shared server)"
        )
        redis_metric.cases[0].notes.append(note)
        latency_metric.cases[0].notes.append(
            f"{probes} single tasks per run; the figure of a run is their median"
        )
    finally:
        redis.stop()
    return metrics


if __name__ == "__main__":
    main()
