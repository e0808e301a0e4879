"""The embedded broker (SQLite store) with real ``celery worker`` processes.

The quick forms run in every test run; the long ones are marked
``reliability`` (``nox -s reliability``). Tasks are counted in a ledger (a
private Redis), as in ``test_reliability.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest
from celery import chord, group
from faults import Ledger, kill_tree
from servers import start_private_redis, wait_until
from workers import WORKER_APPS, Worker, start_worker

from appfactory.celery import celeryfactory
from appfactory.celery.store import SCHEME, Store

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)"),
]

TASK = "wledger.tasks.record"


@pytest.fixture
def ledger() -> t.Iterator[Ledger]:
    server = start_private_redis()
    yield Ledger(f"{server.url}/1")
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The path of a store named by URL (not the instance folder's)."""
    return tmp_path / "named" / "store.sqlite3"


@pytest.fixture
def workers(tmp_path: Path) -> t.Iterator[t.Callable[..., Worker]]:
    started: list[Worker] = []

    def start(env: dict[str, str], **options: t.Any) -> Worker:
        worker = start_worker(
            "wapp.celery", env, tmp_path / f"worker-{len(started)}.log", **options
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def settings_for(store: Path, ledger: Ledger) -> dict[str, t.Any]:
    return {
        "PACKAGES": ["wledger", "wtasks"],
        "LEDGER_URL": ledger.url,
        "CELERY_BROKER_URL": f"{SCHEME}://{store}",
    }


def as_env(settings: dict[str, t.Any]) -> dict[str, str]:
    return {
        f"WAPP_{key}": value if isinstance(value, str) else repr(value)
        for key, value in settings.items()
    }


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch) -> t.Callable[[dict[str, t.Any]], t.Any]:
    monkeypatch.syspath_prepend(str(WORKER_APPS))

    def make(settings: dict[str, t.Any]) -> t.Any:
        from wapp.app import create_app

        app = create_app(**settings)
        return app, celeryfactory(app)

    return make


def rows(store: Path, sql: str) -> list[tuple[t.Any, ...]]:
    with sqlite3.connect(store) as db:
        return db.execute(sql).fetchall()


def test_round_trip_over_a_store_named_by_url(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    settings = settings_for(store, ledger)
    worker = workers(as_env(settings))
    app, celery = sender(settings)
    assert celery.conf.result_backend == f"{SCHEME}://{store}"
    with app.app_context():
        results = [celery.tasks[TASK].delay() for _ in range(5)]
        ids = [result.get(timeout=30) for result in results]
        assert celery.tasks["wtasks.tasks.fail"].delay().get(timeout=30, propagate=False)
        assert celery.tasks["wtasks.tasks.flaky"].delay(2).get(timeout=30) == 2
        # Groups read their results together; a chord counts its parts in the store.
        marker, length = celery.tasks["wtasks.tasks.marker"], celery.tasks["wtasks.tasks.length"]
        assert group(marker.s() for _ in range(3))().get(timeout=30) == ["unset"] * 3
        assert chord(marker.s() for _ in range(3))(length.s()).get(timeout=30) == 3
    assert ids == [result.id for result in results]
    assert ledger.tally("round trip (embedded)", ids).completed == 5
    # Acknowledged messages leave the store; results stay until they expire.
    assert wait_until(lambda: not rows(store, "SELECT id FROM messages"), 10)
    assert len(rows(store, "SELECT key FROM results")) >= 7
    assert f"transport:   {SCHEME}://{store}" in worker.output()
    # Private: folder 0o700, database and its WAL files 0o600.
    assert store.parent.stat().st_mode & 0o777 == 0o700
    for path in store.parent.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_fetched_message_is_leased_until_acknowledged(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    settings = settings_for(store, ledger)
    worker = workers(as_env(settings))
    app, celery = sender(settings)
    with app.app_context():
        result = celery.tasks[TASK].delay(3.0)
    assert wait_until(lambda: ledger.running(), 30), worker.output()
    leased = rows(store, "SELECT owner_pid, owner_start, lease FROM messages")
    assert len(leased) == 1
    assert leased[0][0] == worker.process.pid
    assert leased[0][1] > 0
    assert leased[0][2]
    assert result.get(timeout=30) == result.id
    assert wait_until(lambda: not rows(store, "SELECT id FROM messages"), 10)


def send_and_kill(
    store: Path,
    ledger: Ledger,
    workers: t.Callable[..., Worker],
    sender: t.Any,
    count: int,
) -> None:
    """Send ``count`` tasks of 0.5 s, SIGKILL the worker mid-task, start another."""
    settings = settings_for(store, ledger)
    first = workers(as_env(settings), pool="prefork", concurrency=2)
    app, celery = sender(settings)
    with app.app_context():
        sent = [celery.tasks[TASK].delay(0.5).id for _ in range(count)]
    assert wait_until(lambda: len(ledger.running()) >= 1, 30), first.output()
    time.sleep(0.6)
    assert wait_until(lambda: len(ledger.running()) >= 1, 30), first.output()
    in_flight = len(ledger.running())
    kill_tree(first.process)
    done_at_kill = ledger.done()
    held = rows(store, "SELECT count(*) FROM messages WHERE lease IS NOT NULL")[0][0]
    ledger.client.delete("running")
    assert held >= 1, "the killed worker held no lease"

    second = workers(as_env(settings), pool="prefork", concurrency=2)
    assert ledger.wait_done(count, 60, quiet=1.0), second.output()[-3000:]
    tally = ledger.tally(
        f"worker SIGKILL + restart (embedded, {count} tasks)",
        sent,
        done_before_kill=done_at_kill,
        leases_held_at_kill=held,
    )
    assert tally.lost == 0
    assert tally.completed == count
    assert tally.interrupted >= in_flight
    # What the killed worker held (runs under way and prefetched) came back.
    assert tally.redelivered >= held
    assert tally.duplicates <= 2
    assert "Took back" in second.output()


def test_killed_worker_tasks_run_after_restart(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    """SIGKILL of the whole worker: the restarted worker takes back its leases at once."""
    send_and_kill(store, ledger, workers, sender, 12)


@pytest.mark.reliability
def test_killed_worker_tasks_run_after_restart_long(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    send_and_kill(store, ledger, workers, sender, 30)


def test_corrupt_and_foreign_rows_are_set_aside(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    settings = settings_for(store, ledger)
    app, celery = sender(settings)
    queue = celery.conf.task_default_queue
    planted = ["{not json", "[1, 2]", json.dumps({"body": "x"}), "\x00\xff"]
    Store(str(store)).close()  # a store named by URL is made on first use
    with sqlite3.connect(store) as db:
        db.executemany(
            "INSERT INTO messages (queue, payload) VALUES (?, ?)", [(queue, p) for p in planted]
        )
    worker = workers(as_env(settings))
    with app.app_context():
        result = celery.tasks[TASK].delay()
        assert result.get(timeout=30) == result.id
    output = worker.output()
    assert output.count("Set aside message") == len(planted), output
    assert "worker goes on" in output
    assert len(rows(store, "SELECT id FROM set_aside")) == len(planted)
    assert worker.process.poll() is None


def test_large_argument(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    """A 50 MB argument arrives whole (a message is visible only once committed)."""
    settings = settings_for(store, ledger)
    workers(as_env(settings))
    app, celery = sender(settings)
    big = "x" * (50 * 1024 * 1024)
    with app.app_context():
        result = celery.tasks["wtasks.tasks.length"].delay(big)
        assert result.get(timeout=120) == len(big)


SENDER = textwrap.dedent(
    """
    import sys
    from wapp.app import create_app
    from appfactory.celery import celeryfactory

    app = create_app()
    task = celeryfactory(app).tasks["wledger.tasks.record"]
    with app.app_context():
        for _ in range(int(sys.argv[1])):
            print(task.delay().id, flush=True)
    """
)


def run_senders(settings: dict[str, t.Any], count: int, each: int) -> list[str]:
    env = {**os.environ, **as_env(settings), "PYTHONPATH": str(WORKER_APPS)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, str(each)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    sent: list[str] = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        sent.extend(out.split())
    return sent


def two_workers_two_senders(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], each: int
) -> None:
    settings = settings_for(store, ledger)
    started = [workers(as_env(settings), pool="prefork", concurrency=2) for _ in range(2)]
    sent = run_senders(settings, 2, each)
    assert len(sent) == 2 * each
    assert ledger.wait_done(len(sent), 120, quiet=1.0), [w.output()[-2000:] for w in started]
    tally = ledger.tally(f"two workers, two senders, {len(sent)} tasks (embedded)", sent)
    assert tally.lost == 0
    # No kill: every task ran exactly once.
    assert tally.duplicates == 0
    assert not rows(store, "SELECT id FROM messages")


def test_two_workers_two_senders(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker]
) -> None:
    two_workers_two_senders(store, ledger, workers, 100)


@pytest.mark.reliability
def test_two_workers_two_senders_long(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker]
) -> None:
    two_workers_two_senders(store, ledger, workers, 2500)


def store_bytes(store: Path) -> int:
    return sum(path.stat().st_size for path in store.parent.glob(store.name + "*"))


def bounded_store(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], batch: int, batches: int
) -> None:
    """Batches of tasks with results that expire after 2 s: the store stops growing."""
    settings = {**settings_for(store, ledger), "CELERY_RESULT_EXPIRES": 2}
    started = [workers(as_env(settings), pool="prefork", concurrency=2) for _ in range(2)]
    sent = run_senders(settings, 2, batch // 2)
    assert ledger.wait_done(len(sent), 600), [w.output()[-2000:] for w in started]
    assert wait_until(lambda: not rows(store, "SELECT id FROM messages"), 30)
    first = store_bytes(store)
    sizes = [first]
    for _ in range(batches - 1):
        time.sleep(2.5)  # the results of the last batch expire
        more = run_senders(settings, 2, batch // 2)
        sent += more
        assert ledger.wait_done(len(sent), 600), [w.output()[-2000:] for w in started]
        assert wait_until(lambda: not rows(store, "SELECT id FROM messages"), 30)
        sizes.append(store_bytes(store))
    results = rows(store, "SELECT count(*) FROM results")[0][0]
    ledger.tally(
        f"store size, {batches} batches of {batch} tasks (embedded)",
        sent,
        store_mib="/".join(f"{size / 2**20:.1f}" for size in sizes),
        results_left=results,
    )
    # Acknowledged messages left; results of earlier batches expired and were deleted.
    assert results <= batch + 10
    # Freed pages are used again: later batches do not grow the file much.
    assert sizes[-1] <= first * 1.5 + 4 * 2**20, sizes


def test_store_size_is_bounded(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker]
) -> None:
    bounded_store(store, ledger, workers, 400, 3)


@pytest.mark.reliability
@pytest.mark.timeout(900)
def test_store_size_is_bounded_long(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker]
) -> None:
    bounded_store(store, ledger, workers, 20_000, 5)


KILLED_SENDER = textwrap.dedent(
    """
    from wapp.app import create_app
    from appfactory.celery import celeryfactory

    app = create_app()
    task = celeryfactory(app).tasks["wtasks.tasks.length"]
    big = "y" * (20 * 1024 * 1024)
    with app.app_context():
        while True:
            print(task.delay(big).id, flush=True)
    """
)


def test_a_sender_killed_mid_send_leaves_no_partial_message(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    """SIGKILL of a process sending 20 MB messages: what it sent runs, nothing partial."""
    settings = settings_for(store, ledger)
    env = {**os.environ, **as_env(settings), "PYTHONPATH": str(WORKER_APPS)}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_SENDER], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    sent = [process.stdout.readline().strip() for _ in range(3)]
    process.kill()  # in the middle of a later send (each takes a while)
    out, _ = process.communicate(timeout=30)
    sent += out.split()
    worker = workers(as_env(settings))
    app, celery = sender(settings)
    with app.app_context():
        for task_id in sent:
            assert celery.AsyncResult(task_id).get(timeout=60) == 20 * 1024 * 1024
    assert wait_until(lambda: not rows(store, "SELECT id FROM messages"), 30)
    assert "Set aside" not in worker.output()
    assert not rows(store, "SELECT id FROM set_aside")


def test_a_live_worker_keeps_its_leases(
    store: Path, ledger: Ledger, workers: t.Callable[..., Worker], sender: t.Any
) -> None:
    """A task longer than the lease runs once: its worker extends the lease while it runs."""
    options = {"visibility_timeout": 2, "reclaim_interval": 0.5}
    settings = {**settings_for(store, ledger), "CELERY_BROKER_TRANSPORT_OPTIONS": options}
    first = workers(as_env(settings), pool="prefork", concurrency=1)
    app, celery = sender(settings)
    with app.app_context():
        sent = [celery.tasks[TASK].delay(5.0).id]
    assert wait_until(lambda: bool(ledger.running()), 30), first.output()
    second = workers(as_env(settings), pool="prefork", concurrency=1)
    assert ledger.wait_done(1, 30, quiet=3.0), first.output()
    tally = ledger.tally("task of 5 s, lease of 2 s, worker alive (embedded)", sent)
    assert tally.lost == 0
    assert tally.duplicates == 0, second.output()
