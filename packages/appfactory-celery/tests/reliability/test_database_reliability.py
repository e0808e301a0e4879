"""Tasks about written rows: the commit race counted, and the outbox under faults.

A real ``celery worker`` of the app ``wdb`` (Flask-SQLAlchemy on a PostgreSQL
database of this run) over a Redis of the test's own. Each task looks for the
row it was sent about and writes what it saw into the database, which is
the ledger here: a task that ran is a ``Seen`` row, so the tests count what
became of each send (sent, completed, duplicates, lost) as the other
reliability tests do, plus the runs that missed their row.

* the commit race: ``--race-sends`` per mode (200; the figures of
  docs/reliability.rst are of 1000), with 0, 1 and 10 ms of other work
  between the send and the commit;
* the broker stopped (SIGKILL) while the web side commits 1,000 tasks
  through the outbox, started again once all are committed;
* web processes killed (SIGKILL) right after a commit, with and without the
  outbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import pytest
from faults import RestartableRedis, report
from flask import Flask
from races import run_race, send, tally, wait_for
from servers import Server
from test_database_worker import private_redis, web_settings, worker_of  # noqa: F401

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

OUTBOX_SENDS = 1000
WEB_PROCESSES = 5
COMMITS_PER_WEB_PROCESS = 10


@pytest.mark.timeout(900)
def test_commit_race(
    make_wdb: t.Callable[..., Flask],
    private_redis: Server,  # noqa: F811 (the imported fixture)
    worker_of: t.Callable[[Flask], t.Any],  # noqa: F811 (the imported fixture)
    pytestconfig: pytest.Config,
) -> None:
    """Plain ``delay()`` before the commit against ``delay_on_commit()``, and rollbacks."""
    sends = pytestconfig.getoption("--race-sends")
    app = make_wdb(**web_settings(f"{private_redis.url}/0"))
    worker_of(app)
    for work in (0.0, 0.001, 0.01):
        plain = run_race(app, "delay", sends, work=work)
        on_commit = run_race(app, "on_commit", sends, work=work)
        report(plain.line())
        report(on_commit.line())
        assert plain.lost == 0, plain.line()
        assert (on_commit.completed, on_commit.missed, on_commit.lost) == (sends, 0, 0)
    rolled_back = run_race(app, "rollback", sends)
    report(rolled_back.line())
    assert rolled_back.completed == 0, rolled_back.line()


@pytest.mark.timeout(600)
def test_outbox_broker_killed_while_the_web_side_commits(
    make_wdb: t.Callable[..., Flask],
    worker_of: t.Callable[[Flask], t.Any],  # noqa: F811 (the imported fixture)
) -> None:
    """1,000 tasks committed through the outbox while the broker is killed: none lost."""
    broker = RestartableRedis()
    try:
        app = make_wdb(**web_settings(f"{broker.url}/0", TASKS_OUTBOX=True))
        worker = worker_of(app)
        sent: list[str] = []
        committed_while_down = []

        def kill_broker_meanwhile() -> None:
            while len(sent) < OUTBOX_SENDS // 4:
                time.sleep(0.01)
            broker.stop(signal.SIGKILL)
            committed_while_down.append(len(sent))

        killer = threading.Thread(target=kill_broker_meanwhile, daemon=True)
        killer.start()
        started = time.monotonic()
        for _ in range(OUTBOX_SENDS // 50):
            sent.extend(send(app, "on_commit", 50))
        sending = time.monotonic() - started
        killer.join(30)
        waiting = _waiting(app)
        time.sleep(3)  # the worker's relay meets the stopped broker
        broker.start()
        restarted = time.monotonic()
        ok = wait_for(app, sent, 240)
        all_done = time.monotonic() - restarted
        time.sleep(2)  # late duplicates
        counted = tally(app, "on_commit", sent)
        failures = worker.output().count("not relayed, the broker")
        report(
            f"outbox, broker killed while the web side commits (redis): sent={counted.sent} "
            f"completed={counted.completed} duplicates={counted.duplicates} lost={counted.lost} "
            f"missed_rows={counted.missed} committed_before_kill={committed_while_down[0]} "
            f"waiting_when_all_committed={waiting} relay_failures_logged={failures} "
            f"sending={sending:.1f}s all_done_after_restart={all_done:.1f}s"
        )
        assert counted.lost == 0, worker.output()[-3000:]
        assert ok, worker.output()[-3000:]
        assert counted.missed == 0
        assert failures >= 1, "the relay never met the stopped broker"
        assert "cannot be reached" in worker.output()
        assert _waiting(app) == 0
    finally:
        broker.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("outbox", [True, False], ids=["outbox", "on_commit"])
def test_web_process_killed_after_the_commit(
    make_wdb: t.Callable[..., Flask],
    private_redis: Server,  # noqa: F811 (the imported fixture)
    worker_of: t.Callable[[Flask], t.Any],  # noqa: F811 (the imported fixture)
    tmp_path: Path,
    outbox: bool,
) -> None:
    """Web processes killed (SIGKILL) between a commit and what follows it."""
    app = make_wdb(**web_settings(f"{private_redis.url}/0", TASKS_OUTBOX=outbox))
    worker_of(app)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent.parent / "worker_apps"), os.environ.get("PYTHONPATH", "")]
        ),
        **{
            f"WDB_{key}": str(app.config[key])
            for key in (
                "SQLALCHEMY_DATABASE_URI",
                "TASKS_OUTBOX",
                "CELERY_BROKER_URL",
                "CELERY_TASK_DEFAULT_QUEUE",
            )
        },
        "WDB_CELERY_RESULT_BACKEND": "None",
    }
    script = Path(__file__).parent / "web_killed.py"
    task_ids: list[str] = []
    for _ in range(WEB_PROCESSES):
        done = subprocess.run(
            [sys.executable, str(script), str(COMMITS_PER_WEB_PROCESS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
        task_ids += [line.split()[1] for line in done.stdout.splitlines()]
    assert len(task_ids) == WEB_PROCESSES * COMMITS_PER_WEB_PROCESS
    committed = _committed_items(app, "killed-web-")
    assert committed == len(task_ids), "every commit, the last of each process too, holds"
    wait_for(app, task_ids, 60 if outbox else 15)
    time.sleep(1)
    counted = tally(app, "on_commit", task_ids)
    name = "outbox" if outbox else "on commit, no outbox"
    report(
        f"web process SIGKILLed after a commit x{WEB_PROCESSES} ({name}, redis): "
        f"sent={counted.sent} completed={counted.completed} duplicates={counted.duplicates} "
        f"lost={counted.lost} missed_rows={counted.missed}"
    )
    assert counted.missed == 0
    if outbox:
        assert counted.lost == 0
    else:
        # What the outbox is for: each process died with its last task unsent.
        assert counted.lost == WEB_PROCESSES


def _waiting(app: Flask) -> int:
    from sqlalchemy import func, select
    from wdb.database import db

    from appfactory.celery.outbox import TABLE

    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(TABLE)) or 0)


def _committed_items(app: Flask, prefix: str) -> int:
    from sqlalchemy import func, select
    from wdb.database import db
    from wdb.models import Item

    with app.app_context():
        query = select(func.count()).select_from(Item).where(Item.name.startswith(prefix))
        return int(db.session.scalar(query) or 0)
