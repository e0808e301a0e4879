"""Tasks sent on commit and the outbox with a real ``celery worker``: the commit race
counted on PostgreSQL over Redis, and both on SQLite over the embedded broker.

The race here is the quick form (:data:`QUICK_SENDS` per mode); ``nox -s
reliability`` counts more (``--race-sends``, see tests/reliability).
"""

from __future__ import annotations

import typing as t
import uuid
from pathlib import Path

import pytest
from flask import Flask
from races import run_race
from servers import Server, start_private_redis
from workers import Worker, start_worker

QUICK_SENDS = 100
#: How long the tests wait for the worker's runs.
SECONDS = 120


@pytest.fixture
def private_redis() -> t.Iterator[Server]:
    server = start_private_redis()
    yield server
    server.stop()


@pytest.fixture
def worker_of(tmp_path: Path) -> t.Iterator[t.Callable[[Flask], Worker]]:
    """``worker_of(app)``: a solo ``celery -A wdb.celery worker`` with ``app``'s settings."""
    started: list[Worker] = []

    def start(app: Flask) -> Worker:
        keys = [
            "SQLALCHEMY_DATABASE_URI",
            "TASKS_OUTBOX",
            "TASKS_OUTBOX_RELAY_INTERVAL",
            "CELERY_TASK_DEFAULT_QUEUE",
        ]
        env = {f"WDB_{key}": str(app.config[key]) for key in keys}
        if "CELERY_BROKER_URL" in app.config and not app.config["CELERY_BROKER_URL"].startswith(
            "sqlite-embedded://"
        ):
            env["WDB_CELERY_BROKER_URL"] = app.config["CELERY_BROKER_URL"]
        worker = start_worker("wdb.celery", env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def web_settings(broker_url: str | None, **more: t.Any) -> dict[str, t.Any]:
    """The web side's settings: not eager, a queue of the test's own."""
    settings: dict[str, t.Any] = {
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_TASK_EAGER_PROPAGATES": False,
        "CELERY_TASK_DEFAULT_QUEUE": f"wdb-{uuid.uuid4().hex[:8]}",
        "TASKS_OUTBOX_RELAY_INTERVAL": 0.2,
        **more,
    }
    if broker_url is None:
        # The embedded broker, and its file result backend.
        settings["CELERY_BROKER_URL"] = None
        settings["CELERY_RESULT_BACKEND"] = None
    else:
        settings["CELERY_BROKER_URL"] = broker_url
        settings["CELERY_RESULT_BACKEND"] = None
    return settings


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_race_over_redis(
    make_wdb: t.Callable[..., Flask],
    private_redis: Server,
    worker_of: t.Callable[[Flask], Worker],
) -> None:
    app = make_wdb(**web_settings(f"{private_redis.url}/0"))
    worker_of(app)
    # 1 ms of other work between the send and the commit, as a view may have.
    races = {
        mode: run_race(app, mode, QUICK_SENDS, SECONDS, work=0.01)
        for mode in ("delay", "on_commit")
    }
    races["rollback"] = run_race(app, "rollback", QUICK_SENDS // 4, SECONDS)
    for race in races.values():
        print(race.line())
    plain, on_commit, rolled_back = races["delay"], races["on_commit"], races["rollback"]
    # The race itself is reported, not asserted: a machine may hide it.
    assert plain.lost == 0, plain.line()
    assert (on_commit.completed, on_commit.missed, on_commit.lost) == (QUICK_SENDS, 0, 0)
    assert rolled_back.completed == 0, rolled_back.line()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_outbox_relayed_by_the_worker_over_redis(
    make_wdb: t.Callable[..., Flask],
    private_redis: Server,
    worker_of: t.Callable[[Flask], Worker],
) -> None:
    app = make_wdb(**web_settings(f"{private_redis.url}/0", TASKS_OUTBOX=True))
    worker = worker_of(app)
    race = run_race(app, "on_commit", 50, SECONDS)
    print(race.line())
    assert (race.completed, race.missed, race.lost) == (50, 0, 0)
    assert run_race(app, "rollback", 10, SECONDS).completed == 0
    assert "Outbox: relaying from postgresql+psycopg://postgres@" in worker.output()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("outbox", [False, True], ids=["on_commit", "outbox"])
def test_on_the_embedded_broker_and_sqlite(
    make_wdb: t.Callable[..., Flask],
    worker_of: t.Callable[[Flask], Worker],
    outbox: bool,
) -> None:
    app = make_wdb(**web_settings(None, TASKS_OUTBOX=outbox))
    assert app.config["CELERY_BROKER_URL"].startswith("sqlite-embedded:///")
    worker_of(app)
    race = run_race(app, "on_commit", 20, SECONDS)
    print(race.line())
    assert (race.completed, race.missed, race.lost) == (20, 0, 0)
    assert run_race(app, "rollback", 5, SECONDS).completed == 0
