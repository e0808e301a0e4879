"""Nothing lost: real workers and real brokers under faults, each task's runs counted.

Every test sends a known number of ``wledger.tasks.record`` tasks; each run
writes its start and its completion into a ledger (a Redis of the test's
own). The test then counts, for the ids it sent, how many completed, how
many ran more than once (Celery promises at-least-once where a worker can
die after the work and before the acknowledgement) and how many were lost,
and prints one ``RELIABILITY`` line per fault (also shown at the end of the
run). ``docs/reliability.rst`` quotes these lines.

These tests are marked ``reliability``; a plain ``pytest`` run skips them,
``nox -s reliability`` (``pytest -m reliability``) runs them.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from faults import (
    Ledger,
    RestartableRedis,
    alive,
    broker_history,
    children,
    kill_tree,
    tree_rss_kib,
)
from flask import Flask
from kombu.exceptions import OperationalError
from servers import Server, start_private_redis, wait_until
from workers import WORKER_APPS, Worker, start_worker

from appfactory.celery import celeryfactory

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)"),
]

TASK = "wledger.tasks.record"
BROKER_DB, LEDGER_DB = 0, 1


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def private_redis() -> t.Iterator[Server]:
    """A redis-server of this test on a free loopback port (broker and ledger)."""
    server = start_private_redis()
    yield server
    server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> t.Iterator[t.Callable[..., Worker]]:
    """Start workers with ``workers(env, pool=..., concurrency=...)``; stopped after the test."""
    started: list[Worker] = []

    def start(env: dict[str, str], **options: t.Any) -> Worker:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = start_worker("wapp.celery", env, log, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


class Sender:
    """The web side: the app ``wapp`` with the ledger package, sending ``record``."""

    def __init__(self, settings: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.syspath_prepend(str(WORKER_APPS))
        from wapp.app import create_app

        self.app: Flask = create_app(**settings)
        self.celery = celeryfactory(self.app)
        self.task = self.celery.tasks[TASK]

    def send(self, pause: float = 0.0) -> str:
        """Send one task (its id is chosen here); returns the id once the send returned."""
        task_id = uuid.uuid4().hex
        with self.app.app_context():
            self.task.apply_async((pause,), task_id=task_id)
        return task_id

    def send_many(self, count: int, pause: float = 0.0) -> list[str]:
        return [self.send(pause) for _ in range(count)]


def settings_for(broker_url: str | None, ledger_url: str, **more: t.Any) -> dict[str, t.Any]:
    """Settings (without prefix) of an app on ``broker_url`` (None: embedded) with a ledger."""
    settings: dict[str, t.Any] = {
        "PACKAGES": ["wledger"],
        "LEDGER_URL": ledger_url,
        "CELERY_TASK_DEFAULT_QUEUE": f"appfactory-reliability-{uuid.uuid4().hex[:8]}",
        **more,
    }
    if broker_url is not None:
        settings["CELERY_BROKER_URL"] = broker_url
    return settings


def as_env(settings: dict[str, t.Any]) -> dict[str, str]:
    """The worker's environment for ``settings`` (values read back as Python literals)."""
    return {
        f"WAPP_{key}": value if isinstance(value, str) else repr(value)
        for key, value in settings.items()
    }


def broker_url(kind: str, request: pytest.FixtureRequest, redis: Server) -> str | None:
    if kind == "redis":
        return f"{redis.url}/{BROKER_DB}"
    if kind == "rabbitmq":
        return str(request.getfixturevalue("rabbitmq_server").url)
    return None


def delete_queue_after(request: pytest.FixtureRequest, settings: dict[str, t.Any]) -> None:
    """Delete the test's queue on a shared RabbitMQ when the test ends (Redis ones go with
    their private server, embedded ones with the instance folder)."""
    url = settings.get("CELERY_BROKER_URL", "")
    if not url.startswith("amqp://"):
        return

    def delete() -> None:
        from kombu import Connection

        with Connection(url, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(settings["CELERY_TASK_DEFAULT_QUEUE"])

    request.addfinalizer(delete)


def wait_running(ledger: Ledger, parent: int, seconds: float = 30) -> dict[int, str]:
    """Runs under way in children of ``parent``: ``{pid: task id}`` (fails if none)."""
    found: dict[int, str] = {}

    def check() -> bool:
        kids = {pid for pid in children(parent) if alive(pid)}
        found.clear()
        found.update({pid: tid for pid, tid in ledger.running().items() if pid in kids})
        return bool(found)

    assert wait_until(check, seconds), "no task started in the worker's children"
    return found


def kill_mid_task(ledger: Ledger, worker: Worker) -> float:
    """SIGKILL ``worker`` and its children while a task runs; return the time of the kill."""
    wait_running(ledger, worker.process.pid)
    # Off the beat of the 0.5 s tasks, then at once when a run is under way.
    time.sleep(0.75)
    wait_running(ledger, worker.process.pid)
    killed_at = time.monotonic()
    kill_tree(worker.process)
    return killed_at


# -- a worker child killed in the middle of a task ------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq", "embedded"])
def test_killed_child_task_is_requeued_and_completed(
    kind: str,
    request: pytest.FixtureRequest,
    private_redis: Server,
    workers: t.Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL of a prefork child mid-task: late acks + reject on worker lost requeue it."""
    ledger = Ledger(f"{private_redis.url}/{LEDGER_DB}")
    settings = settings_for(broker_url(kind, request, private_redis), ledger.url)
    delete_queue_after(request, settings)
    worker = workers(as_env(settings), pool="prefork", concurrency=2)
    sender = Sender(settings, monkeypatch)

    sent = sender.send_many(30, pause=0.5)
    kills = 0
    for _ in range(3):
        running = wait_running(ledger, worker.process.pid)
        pid = sorted(running)[0]
        os.kill(pid, signal.SIGKILL)
        # The dead child's entry would be found again by the next round.
        ledger.client.hdel("running", str(pid))
        kills += 1
        time.sleep(0.5)
    assert ledger.wait_done(len(sent), 60, quiet=1.0), worker.output()[-3000:]

    tally = ledger.tally(f"child SIGKILL x{kills} ({kind})", sent, kills=kills)
    assert tally.lost == 0, worker.output()[-3000:]
    assert tally.completed == len(sent)
    # A run killed after it recorded its completion but before the parent acked it
    # runs again: at most one extra run per kill.
    assert tally.duplicates <= kills
    assert tally.interrupted >= 1, "no kill hit a task in the middle of its run"
    assert "WorkerLostError" in worker.output()


# -- the whole worker killed, then started again ------------------------------------------

#: The visibility timeout of the Redis tests that need unacknowledged tasks back
#: within the test (the project keeps Celery's default of one hour).
SHORT_VISIBILITY = 6
#: Look for expired unacknowledged tasks every second (kombu: every 100 s).
FAST_RESTORE = {"unacked_restore_interval": 1, "unacked_restore_throttle": 1}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq", "embedded"])
def test_killed_worker_tasks_come_back_after_restart(
    kind: str,
    request: pytest.FixtureRequest,
    private_redis: Server,
    workers: t.Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL of the whole worker (main process and children): unacked tasks come back.

    RabbitMQ requeues them as soon as the dead worker's connection closes;
    Redis once they are ``visibility_timeout`` seconds old; the embedded
    broker when the new worker starts (the leases' process is gone).
    """
    ledger = Ledger(f"{private_redis.url}/{LEDGER_DB}")
    more: dict[str, t.Any] = {}
    if kind == "redis":
        options = {"visibility_timeout": SHORT_VISIBILITY, **FAST_RESTORE}
        more["CELERY_BROKER_TRANSPORT_OPTIONS"] = options
    settings = settings_for(broker_url(kind, request, private_redis), ledger.url, **more)
    delete_queue_after(request, settings)
    first = workers(as_env(settings), pool="prefork", concurrency=2)
    sender = Sender(settings, monkeypatch)

    sent = sender.send_many(30, pause=0.5)
    killed_at = kill_mid_task(ledger, first)
    done_at_kill = ledger.done()
    in_flight = len(ledger.running())
    ledger.client.delete("running")
    assert done_at_kill < len(sent)

    second = workers(as_env(settings), pool="prefork", concurrency=2)
    assert ledger.wait_done(len(sent), SHORT_VISIBILITY + 60, quiet=2.0), second.output()[-3000:]
    recovered = time.monotonic() - killed_at

    tally = ledger.tally(
        f"worker SIGKILL + restart ({kind})",
        sent,
        done_before_kill=done_at_kill,
        recovered_in=f"{recovered:.1f}s",
    )
    assert tally.lost == 0
    assert tally.completed == len(sent)
    assert tally.interrupted >= in_flight
    # The runs under way and the messages fetched in advance came back.
    assert tally.redelivered >= max(in_flight, 1)
    # Runs are recorded at their end: a run cut by the kill did not record, so
    # only a kill between a run's end and its acknowledgement makes a duplicate.
    assert tally.duplicates <= 2


@pytest.mark.timeout(60)
def test_task_longer_than_visibility_timeout_runs_twice(
    private_redis: Server,
    workers: t.Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The price of a short Redis visibility timeout: a long task is delivered again."""
    ledger = Ledger(f"{private_redis.url}/{LEDGER_DB}")
    options = {"visibility_timeout": 2, **FAST_RESTORE}
    settings = settings_for(
        f"{private_redis.url}/{BROKER_DB}", ledger.url, CELERY_BROKER_TRANSPORT_OPTIONS=options
    )
    workers(as_env(settings), pool="prefork", concurrency=2)
    sender = Sender(settings, monkeypatch)

    sent = [sender.send(pause=5.0)]
    assert ledger.wait_done(1, 30, quiet=6.0)
    tally = ledger.tally("task of 5 s, visibility_timeout 2 s (redis)", sent)
    assert tally.lost == 0
    assert tally.duplicates >= 1


# -- the broker restarted while workers run and the web side sends ---------------------------


def restart_plan(count: int) -> list[tuple[float, signal.Signals]]:
    """``count`` restarts of Redis: (seconds up before the stop, the signal), clean
    stops and SIGKILLs in turn; each stop lasts 1.5 s."""
    ups = (1.5, 3.0, 2.0, 2.5)
    return [
        (ups[index % len(ups)], signal.SIGTERM if index % 2 == 0 else signal.SIGKILL)
        for index in range(count)
    ]


def explain_lost(broker: RestartableRedis, sent: list[str], runs: dict[str, int]) -> str:
    """The append-only file's account of each lost task (at most 10 of them)."""
    lost = [task_id for task_id in sent if not runs.get(task_id)][:10]
    history = broker_history(broker.folder, lost)
    return "\n".join(f"lost {task_id}: {', '.join(history[task_id]) or 'never in Redis'}"
                     for task_id in lost)  # fmt: skip


@pytest.mark.redis_restarts
def test_broker_restart_while_workers_run_and_web_sends(
    workers: t.Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
    pytestconfig: pytest.Config,
) -> None:
    """Redis restarted under load, then down for a while: nothing that was sent vanishes.

    Restarts of 1.5 s (clean stops and SIGKILLs in turn; 6, or
    ``--redis-restarts``) while the web side sends every 10 ms: a send waits
    and succeeds, or fails. Then the broker stays down while the web side
    sends: every send fails with an error naming the broker, within a bounded
    time. Every send that returned is completed, including those a worker had
    taken off the queue just as Redis stopped (the worker puts them back once
    it has reconnected; ``put_back`` counts them). A lost one fails the test
    with what Redis's append-only file says of it.
    """
    broker = RestartableRedis()
    ledger_server = start_private_redis()
    try:
        ledger = Ledger(f"{ledger_server.url}/{LEDGER_DB}")
        # The tasks a worker held when its connection broke come back after the
        # visibility timeout: a short one, so that they do within the test.
        options = {"visibility_timeout": SHORT_VISIBILITY, **FAST_RESTORE}
        settings = settings_for(
            f"{broker.url}/{BROKER_DB}", ledger.url, CELERY_BROKER_TRANSPORT_OPTIONS=options
        )
        started = [workers(as_env(settings), pool="prefork", concurrency=1) for _ in range(2)]
        sender = Sender(settings, monkeypatch)
        sent: list[str] = []
        failed: list[tuple[str, float, BaseException]] = []

        def send() -> None:
            task_id = uuid.uuid4().hex
            began = time.monotonic()
            try:
                with sender.app.app_context():
                    sender.task.apply_async((0.01,), task_id=task_id)
            except Exception as exc:
                failed.append((task_id, time.monotonic() - began, exc))
            else:
                sent.append(task_id)

        plan = restart_plan(pytestconfig.getoption("--redis-restarts"))

        def restart_under_load() -> None:
            for delay, sig in plan:
                time.sleep(delay)
                broker.stop(sig)
                time.sleep(1.5)
                broker.start()

        restarter = threading.Thread(target=restart_under_load, daemon=True)
        sending = 30 + 6 * len(plan)
        deadline = time.monotonic() + sending
        restarter.start()
        for _ in range(100 * sending):
            if time.monotonic() > deadline or not restarter.is_alive():
                break
            send()
            time.sleep(0.01)
        restarter.join(timeout=30)
        assert not restarter.is_alive()
        during_restarts = len(sent) + len(failed)

        # Down for longer than the web side's retries last: the sends fail.
        broker.stop(signal.SIGTERM)
        failed_before = len(failed)
        for _ in range(3):
            send()
        down_failures = failed[failed_before:]
        broker.start()
        for _ in range(20):
            send()

        ok = ledger.wait_done(len(sent), 120, quiet=SHORT_VISIBILITY + 3.0)
        runs = ledger.runs()
        failed_ids = [task_id for task_id, _, _ in failed]
        slowest = max((seconds for _, seconds, _ in failed), default=0.0)
        kinds = sorted({type(exc).__name__ for *_, exc in failed})
        put_back = sum(worker.output().count("Put back task") for worker in started)
        tally = ledger.tally(
            f"broker restart x{len(plan)} under load, then down (redis)",
            sent,
            failed_sends=len(failed),
            sends_during_restarts=during_restarts,
            put_back=put_back,
            failed_but_ran=sum(1 for task_id in failed_ids if runs.get(task_id)),
            slowest_failed_send=f"{slowest:.1f}s",
            errors="|".join(kinds) or "none",
        )
        outputs = "\n".join(worker.output()[-2000:] for worker in started)
        assert tally.lost == 0, f"{explain_lost(broker, sent, runs)}\n{outputs}"
        assert ok, outputs
        assert len(down_failures) == 3, "a send to a stopped broker did not fail"
        for _, seconds, exc in failed:
            assert isinstance(exc, OperationalError), repr(exc)
            assert seconds < 30, f"a failed send took {seconds:.1f} s"
            assert f"127.0.0.1:{broker.port}" in str(exc), str(exc)
        for worker in started:
            assert worker.process.poll() is None, worker.output()[-3000:]
            assert "Connection to broker lost" in worker.output()
        # The web side's Celery app still sends and reads results.
        with sender.app.app_context():
            result = sender.task.apply_async((0.0,))
            assert result.get(timeout=30) == result.id
            del result
    finally:
        # Results unsubscribe from Redis when collected: while it still runs (later,
        # each would warn that the stopped broker cannot be reached).
        gc.collect()
        broker.close()
        ledger_server.stop()


# -- a burst of 10,000 tasks through two workers ------------------------------------------


BURST = 10_000


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["redis", "embedded"])
def test_burst_through_two_workers(
    kind: str,
    request: pytest.FixtureRequest,
    private_redis: Server,
    workers: t.Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10,000 tasks, two workers: all complete once, worker memory stays bounded."""
    ledger = Ledger(f"{private_redis.url}/{LEDGER_DB}")
    settings = settings_for(broker_url(kind, request, private_redis), ledger.url)
    started = [workers(as_env(settings), pool="prefork", concurrency=1) for _ in range(2)]
    sender = Sender(settings, monkeypatch)

    # Warm up, so that the start figure is of a worker that has run tasks.
    warm = sender.send_many(200)
    assert ledger.wait_done(len(warm), 60)
    rss_start = [tree_rss_kib(worker.process.pid) for worker in started]
    rss_peak = list(rss_start)

    began = time.monotonic()
    sent = sender.send_many(BURST)
    sending = time.monotonic() - began

    def progress() -> bool:
        for index, worker in enumerate(started):
            rss_peak[index] = max(rss_peak[index], tree_rss_kib(worker.process.pid))
        return ledger.done() >= len(warm) + BURST

    assert wait_until(progress, 240), [worker.output()[-2000:] for worker in started]
    elapsed = time.monotonic() - began
    time.sleep(2.0)
    rss_end = [tree_rss_kib(worker.process.pid) for worker in started]

    def mib(values: list[int]) -> str:
        return "/".join(f"{value / 1024:.1f}" for value in values)

    tally = ledger.tally(
        f"burst of {BURST} through two workers ({kind})",
        sent,
        send_seconds=f"{sending:.1f}",
        total_seconds=f"{elapsed:.1f}",
        rss_start_mib=mib(rss_start),
        rss_peak_mib=mib(rss_peak),
        rss_end_mib=mib(rss_end),
    )
    assert tally.lost == 0
    assert tally.duplicates == 0
    for start, end in zip(rss_start, rss_end, strict=True):
        # Bounded: no growth with the number of tasks (a leak of 1 KiB per task
        # would be about 10 MiB here).
        assert end - start < 32 * 1024, f"worker memory grew from {start} to {end} KiB"
