"""Metrics ``on_commit_send`` and ``outbox_send``: a task sent from a database transaction.

One child process builds one app (Flask-SQLAlchemy on PostgreSQL on
127.0.0.1:5432 when it answers, in a database of the run's own, else SQLite;
Celery over a private Redis, results in the same Redis as by default, no worker)
and times whole
transactions, the systems alternating in rounds (PostgreSQL commits without
waiting for the disk, ``synchronous_commit=off``, so that the cost of the
send is not hidden by that of a flush). A transaction writes one
row, flushes it, sends ``bench.noop`` (no arguments) and commits:

* floor: plain ``delay()`` before the commit (the racy way);
* ``on_commit_send``, ours: ``delay_on_commit()``, sent right after the commit;
* ``outbox_send``, ours: ``delay_on_commit()`` with ``TASKS_OUTBOX`` on: the
  message is written into the outbox table in the transaction, and nothing
  reaches the broker until a relay pass. The relay's own cost per task
  (publish and delete, in passes of 100) is timed afterwards and noted.

The figure is microseconds per transaction, of the wall clock and (cases
``*_cpu``) of the sending process's CPU time in the same batches.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import typing as t
import uuid

from benchmarks.harness import Case, Context, Goal, Metric, emit, interleave, run_child
from benchmarks.synthetic import instance_variable

METRICS = ("on_commit_send", "outbox_send")
GOAL_RATIO = 1.10
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def build(database_url: str, broker_url: str) -> tuple[t.Any, t.Any, t.Any, t.Any]:
    """The app, its ``db``, the row model and the task."""
    from appfactory.celery import celeryfactory
    from appfactory.core import appfactory
    from benchmarks.apps.dbext import Row, db

    app = appfactory(
        "benchapp",
        None,
        SECRET_KEY="benchmarks-not-secret",
        EXTENSIONS=["benchmarks.apps.dbext", "appfactory.celery"],
        PACKAGES=["benchmarks.apps.worktasks"],
        SQLALCHEMY_DATABASE_URI=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_RESULT_BACKEND=None,
        CELERY_TASK_DEFAULT_QUEUE=f"bench-on-commit-{uuid.uuid4().hex[:8]}",
        TASKS_OUTBOX=True,  # the outbox table is defined; each system sets it
        # A commit that waits for no disk flush, so that the send's own cost shows:
        # on this machine a flushed commit takes milliseconds, and varies by as much.
        SQLALCHEMY_ENGINE_OPTIONS=(
            {"connect_args": {"options": "-c synchronous_commit=off"}}
            if database_url.startswith("postgresql")
            else {}
        ),
    )
    celery = celeryfactory(app)
    with app.app_context():
        db.create_all()
    return app, db, Row, celery.tasks["bench.noop"]


def time_transactions(app: t.Any, db: t.Any, row: t.Any, send: t.Callable[[], t.Any],
                      calls: int) -> tuple[float, float]:  # fmt: skip
    """Microseconds per transaction (write, flush, send, commit): wall clock, and the
    CPU time of this process (what the web process itself spends, which other
    processes' load on a shared machine disturbs less)."""
    with app.app_context():
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            item = row(name="x")
            db.session.add(item)
            db.session.flush()
            send()
            db.session.commit()
        wall = (time.perf_counter() - start) * 1e6 / calls
        return wall, (time.process_time() - cpu) * 1e6 / calls


def measure(database_url: str, broker_url: str, calls: int, rounds: int) -> dict[str, t.Any]:
    from appfactory.celery.outbox import database_engine, outbox_status, relay_once

    app, db, row, task = build(database_url, broker_url)

    def system(name: str) -> t.Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            app.config["TASKS_OUTBOX"] = name == "outbox"
            send = task.delay if name == "floor" else task.delay_on_commit
            return time_transactions(app, db, row, send, calls)

        return run

    runs = {name: system(name) for name in ("floor", "on_commit", "outbox")}
    for run in runs.values():
        run()  # warm-up
    engine = database_engine(app)
    celery = task.app
    while relay_once(celery, engine).full:
        pass
    cpu: dict[str, list[float]] = {name: [] for name in runs}

    def measure_one(name: str, _: int) -> float:
        wall, used = runs[name]()
        cpu[name].append(used)
        return wall

    samples = interleave(list(runs), rounds, measure_one)
    waiting = outbox_status(engine).waiting
    start = time.perf_counter()
    relayed = 0
    while True:
        done = relay_once(celery, engine)
        relayed += done.sent
        if done.error or not done.full:
            break
    relay_us = (time.perf_counter() - start) * 1e6 / max(relayed, 1)
    with app.app_context():
        db.drop_all()
        db.engine.dispose()
    return {
        "samples": samples,
        "cpu": cpu,
        "relay_us_per_task": relay_us,
        "relayed": relayed,
        "waiting": waiting,
        "database": database_url.split(":")[0].split("+")[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    args = parser.parse_args(argv)
    emit(measure(args.database, args.broker, args.calls, args.rounds))


def database(ctx: Context) -> tuple[str, t.Callable[[], None]]:
    """A database of this run's own: on PostgreSQL when it answers, else a SQLite file."""
    try:
        import psycopg

        name = f"appfactory_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True, connect_timeout=3
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(
                host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop
    except Exception as exc:  # no driver, or no server: SQLite
        ctx.log(f"on_commit: PostgreSQL unavailable ({type(exc).__name__}), using SQLite")
        path = os.path.join(str(ctx.workspace.folder("on_commit")), "bench.sqlite")
        return f"sqlite:///{path}", lambda: None


def run(ctx: Context) -> list[Metric]:
    from benchmarks.worker import start_redis

    systems = {"floor": "plain delay() before the commit, in the same transaction"}
    on_commit = Metric(
        "on_commit_send",
        "a transaction that writes a row and sends a task: delay_on_commit()",
        "us",
        "lower",
        {**systems, "ours": "delay_on_commit(): sent right after the commit"},
        f"ours/floor <= {GOAL_RATIO:.2f}",
    )
    outbox = Metric(
        "outbox_send",
        "the same transaction with TASKS_OUTBOX on (the message written in it)",
        "us",
        "lower",
        {**systems, "ours": "delay_on_commit() into the outbox table (relayed later)"},
        "reported (the outbox's cost per task)",
    )
    redis = start_redis()
    if redis is None:
        for metric in (on_commit, outbox):
            metric.cases.append(Case("redis", skipped="no redis-server and no Redis on 6379"))
        return [on_commit, outbox]
    url, drop = database(ctx)
    try:
        calls = ctx.pick(250, 100)
        args = ["--database", url, "--broker", redis.url, "--calls", str(calls),
                "--rounds", str(ctx.pick(20, 2))]  # fmt: skip
        env = ctx.env([], instance_variable(ctx.workspace.folder("instance")))
        result = run_child(__name__, args, env)
    finally:
        drop()
        redis.stop()
    name = result["database"]
    for kind in ("samples", "cpu"):
        samples = result[kind]
        label = name if kind == "samples" else f"{name}_cpu"
        case = Case(label, samples={"floor": samples["floor"], "ours": samples["on_commit"]})
        case.goal = Goal.ratio_at_most(GOAL_RATIO)
        on_commit.cases.append(case)
        outbox.cases.append(
            Case(label, samples={"floor": samples["floor"], "ours": samples["outbox"]})
        )
    on_commit.cases[0].notes.append(
        f"{calls} transactions per batch, broker and results Redis, no worker; the "
        f"{name}_cpu case is the CPU time of the sending process in the same batches"
    )
    outbox.cases[0].checks["relayed"] = result["relayed"]
    outbox.cases[0].notes.append(
        f"relay: {result['relay_us_per_task']:.0f} us per task (publish and delete, passes of "
        f"100), {result['relayed']} tasks"
    )
    return [on_commit, outbox]


if __name__ == "__main__":
    main()
