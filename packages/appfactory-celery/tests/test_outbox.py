"""The outbox: tasks written with their data, relayed after the commit, kept while the
broker is away; its table, its check (AF306) and its command. SQLite and PostgreSQL;
the broker is a Redis of this module's own, read directly to see what was relayed."""

from __future__ import annotations

import base64
import json
import logging
import re
import typing as t
import uuid

import pytest
from click.testing import CliRunner
from flask import Flask
from servers import Server, free_port, start_private_redis
from sqlalchemy import func, insert, select

from appfactory.celery import TaskArgumentError, celeryfactory, outbox_table
from appfactory.celery.outbox import TABLE, relay_once
from appfactory.core import AppFactoryError, check_app, clifactory

MakeApp = t.Callable[..., Flask]


@pytest.fixture(scope="module")
def broker() -> t.Iterator[Server]:
    """A redis-server of this module's own (broker only: no result backend)."""
    server = start_private_redis()
    yield server
    server.stop()


@pytest.fixture
def outbox_app(make_wdb: MakeApp, broker: Server) -> Flask:
    """``wdb`` with the outbox on, sending to a queue of the test's own; workers do not run."""
    return make_wdb(
        TASKS_OUTBOX=True,
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_BROKER_URL=f"{broker.url}/0",
        CELERY_RESULT_BACKEND=None,
        CELERY_TASK_DEFAULT_QUEUE=f"outbox-test-{uuid.uuid4().hex[:8]}",
    )


def queued(app: Flask) -> list[tuple[str, list[t.Any], dict[str, t.Any]]]:
    """``(task id, args, kwargs)`` of the messages in the app's queue, oldest first."""
    import redis

    celery = celeryfactory(app)
    client = redis.Redis.from_url(celery.conf.broker_url)
    raw = client.lrange(celery.conf.task_default_queue, 0, -1)
    client.close()
    found = []
    for item in reversed(raw):  # kombu pushes on the left and pops on the right
        message = json.loads(item)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["id"], args, kwargs))
    return found


def waiting(app: Flask) -> list[str]:
    """The task ids in the outbox, in id order (from a session of their own)."""
    from wdb.database import db

    with app.app_context():
        return list(db.session.scalars(select(TABLE.c.task_id).order_by(TABLE.c.id)))


def relay(app: Flask) -> t.Any:
    from appfactory.celery.outbox import database_engine

    return relay_once(celeryfactory(app), database_engine(app))


def add_item() -> int:
    from wdb.database import db
    from wdb.models import Item

    item = Item(name="row")
    db.session.add(item)
    db.session.flush()
    return int(item.id)


def test_written_in_the_transaction_relayed_after_the_commit(outbox_app: Flask) -> None:
    from wdb.database import db
    from wdb.tasks import look

    with outbox_app.app_context():
        item_id = add_item()
        task_id = look.delay_on_commit(item_id)
        # Written by the session, in its transaction: visible to it alone for now.
        assert db.session.scalar(select(func.count()).select_from(TABLE)) == 1
        assert waiting(outbox_app) == []
        db.session.commit()
    assert waiting(outbox_app) == [task_id]
    assert queued(outbox_app) == []
    done = relay(outbox_app)
    assert (done.sent, done.failed, done.error, done.busy) == (1, 0, None, False)
    assert waiting(outbox_app) == []
    assert queued(outbox_app) == [(task_id, [item_id], {})]


def test_rollbacks_and_savepoints_leave_nothing(outbox_app: Flask) -> None:
    from wdb.database import db
    from wdb.tasks import look

    with outbox_app.app_context():
        look.delay_on_commit(add_item())
        db.session.rollback()
        with db.session.begin_nested():
            kept = look.delay_on_commit(add_item())
        savepoint = db.session.begin_nested()
        look.delay_on_commit(add_item())
        savepoint.rollback()
        db.session.commit()
    assert waiting(outbox_app) == [kept]


def test_no_transaction_sends_at_once(outbox_app: Flask) -> None:
    from wdb.tasks import look

    with outbox_app.app_context():
        task_id = look.delay_on_commit(7)
    assert waiting(outbox_app) == []
    assert queued(outbox_app) == [(task_id, [7], {})]


def test_relayed_in_the_order_of_the_commits(outbox_app: Flask) -> None:
    from wdb.database import db
    from wdb.tasks import look

    sent = []
    with outbox_app.app_context():
        for number in range(5):
            db.session.execute(select(1))  # opens a transaction
            sent.append(look.delay_on_commit(number))
            sent.append(look.apply_async_on_commit((number + 100,)))
            db.session.commit()
    assert waiting(outbox_app) == sent
    assert relay(outbox_app).sent == 10
    assert [task_id for task_id, _, _ in queued(outbox_app)] == sent


def test_broker_away_keeps_the_tasks_in_order(
    outbox_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from celery import Celery
    from wdb.database import db
    from wdb.tasks import look

    from appfactory.celery.outbox import database_engine

    with outbox_app.app_context():
        db.session.execute(select(1))
        first = look.delay_on_commit(1)
        second = look.delay_on_commit(2)
        db.session.commit()
    away = Celery("away", set_as_current=False)
    away.conf.update(
        broker_url=f"redis://:hunter2@127.0.0.1:{free_port()}/0",
        broker_connection_timeout=1,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0},
    )
    caplog.set_level(logging.WARNING, "appfactory.celery.outbox")
    done = relay_once(away, database_engine(outbox_app))
    assert done.sent == 0
    assert done.error is not None
    assert "hunter2" not in caplog.text
    assert "hunter2" not in done.error
    assert re.search(
        rf"Outbox: task 'wdb.tasks.look' \({first}\) not relayed, the broker "
        r"redis://:\*+@127\.0\.0\.1:\d+/0 cannot be reached \(.+\); it stays in the outbox "
        r"with 1 waiting after it, attempt 1",
        caplog.text,
    )
    assert waiting(outbox_app) == [first, second]
    with outbox_app.app_context():
        attempts = db.session.scalar(select(TABLE.c.attempts).where(TABLE.c.task_id == first))
    assert attempts == 1
    assert relay(outbox_app).sent == 2
    assert [task_id for task_id, _, _ in queued(outbox_app)] == [first, second]


def test_a_message_the_broker_cannot_take_is_marked_failed(
    outbox_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from wdb.database import db
    from wdb.tasks import look

    from appfactory.celery.outbox import _now

    with outbox_app.app_context():
        db.session.execute(
            insert(TABLE).values(
                task_id="broken", task="wdb.tasks.look", message="{not json", created_at=_now()
            )
        )
        good = look.delay_on_commit(3)
        db.session.commit()
    caplog.set_level(logging.ERROR, "appfactory.celery.outbox")
    done = relay(outbox_app)
    assert (done.sent, done.failed) == (1, 1)
    assert "Outbox: task 'wdb.tasks.look' (broken) refused by the broker" in caplog.text
    assert [task_id for task_id, _, _ in queued(outbox_app)] == [good]
    assert waiting(outbox_app) == ["broken"]
    assert relay(outbox_app).sent == 0  # a failed message is not tried again


def test_options_and_arguments(outbox_app: Flask) -> None:
    import datetime

    from kombu.utils import json as kombu_json
    from wdb.database import db
    from wdb.tasks import look

    with outbox_app.app_context():
        db.session.execute(select(1))
        before = datetime.datetime.now(datetime.UTC)
        look.apply_async_on_commit((1,), countdown=60, priority=3)
        with pytest.raises(TaskArgumentError, match=r"argument args\[0\] is of type object"):
            look.delay_on_commit(object())
        message = db.session.scalar(select(TABLE.c.message))
        db.session.commit()
    options = kombu_json.loads(message)["options"]
    assert "countdown" not in options
    assert options["priority"] == 3
    eta = options["eta"]
    assert before + datetime.timedelta(seconds=59) < eta < before + datetime.timedelta(seconds=70)


def test_eager_apps_run_the_task_after_the_commit(make_wdb: MakeApp) -> None:
    from dbapps import seen
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb(TASKS_OUTBOX=True)
    with app.app_context():
        item_id = add_item()
        look.delay_on_commit(item_id)
        assert seen(app) == []
        db.session.commit()
        assert [(item, found) for item, _, found in seen(app)] == [(item_id, True)]
    assert waiting(app) == []


def test_the_table_is_on_the_apps_metadata(outbox_app: Flask) -> None:
    from wdb.database import db

    assert db.metadata.tables["celery_outbox"] is outbox_table(db.metadata)
    with outbox_app.app_context():
        assert db.inspect(db.engine).has_table("celery_outbox")


def test_a_missing_table_is_reported(outbox_app: Flask) -> None:
    from wdb.database import db
    from wdb.tasks import look

    with outbox_app.app_context():
        assert not [p for p in check_app(outbox_app) if p.id == "AF306"]
        outbox_table(db.metadata).drop(db.engine)
        problems = [p for p in check_app(outbox_app) if p.id == "AF306"]
        assert len(problems) == 1
        assert str(problems[0]).startswith(
            "error AF306 outbox-table-missing: TASKS_OUTBOX is on, but the outbox table "
            "'celery_outbox' does not exist in "
        )
        db.session.execute(select(1))
        with pytest.raises(AppFactoryError, match="could not be written to the outbox table"):
            look.delay_on_commit(1)
        db.session.rollback()


def test_the_outbox_command(outbox_app: Flask) -> None:
    from wdb.app import create_app
    from wdb.database import db
    from wdb.tasks import look

    with outbox_app.app_context():
        db.session.execute(select(1))
        look.delay_on_commit(1)
        look.delay_on_commit(2)
        db.session.commit()
    settings = {
        key: outbox_app.config[key]
        for key in (
            "SQLALCHEMY_DATABASE_URI",
            "TASKS_OUTBOX",
            "CELERY_BROKER_URL",
            "CELERY_TASK_DEFAULT_QUEUE",
            "CELERY_TASK_ALWAYS_EAGER",
        )
    }
    cli = clifactory(create_app, **settings)
    runner = CliRunner()
    result = runner.invoke(cli, ["outbox", "status"])
    assert result.exit_code == 0, result.output
    assert re.match(
        r"2 task\(s\) wait in the outbox, the oldest since .+; 0 failed\.", result.output
    )
    result = runner.invoke(cli, ["outbox", "relay"])
    assert result.exit_code == 0, result.output
    assert result.output == "Relayed 2 task(s) to the broker; 0 refused and marked failed.\n"
    assert len(queued(outbox_app)) == 2
    result = runner.invoke(cli, ["outbox", "status"])
    assert result.output == "0 task(s) wait in the outbox; 0 failed.\n"

    off = clifactory(create_app, **{**settings, "TASKS_OUTBOX": False})
    result = runner.invoke(off, ["outbox", "status"])
    assert result.output.startswith("The outbox is off (TASKS_OUTBOX = False)")


def test_the_relay_command_with_the_broker_away(outbox_app: Flask) -> None:
    from wdb.app import create_app
    from wdb.database import db
    from wdb.tasks import look

    with outbox_app.app_context():
        db.session.execute(select(1))
        look.delay_on_commit(1)
        db.session.commit()
    cli = clifactory(
        create_app,
        SQLALCHEMY_DATABASE_URI=outbox_app.config["SQLALCHEMY_DATABASE_URI"],
        TASKS_OUTBOX=True,
        CELERY_BROKER_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0",
        CELERY_BROKER_CONNECTION_TIMEOUT=1,
        CELERY_TASK_PUBLISH_RETRY_POLICY={"max_retries": 0},
    )
    result = CliRunner().invoke(cli, ["outbox", "relay"])
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: Relayed 0 task(s), then the broker could not be reached ("
    )
    assert "hunter2" not in result.output
    assert len(waiting(outbox_app)) == 1


def test_an_outbox_without_a_session_is_reported() -> None:
    from dbapps import EAGER

    from appfactory.core import appfactory

    app = appfactory(
        "testapp",
        None,
        EXTENSIONS=["appfactory.celery"],
        SECRET_KEY="x",
        TASKS_OUTBOX=True,
        **EAGER,
    )
    problems = [str(p) for p in check_app(app) if p.id == "AF306"]
    assert len(problems) == 1
    assert problems[0].startswith(
        "error AF306 outbox-table-missing: TASKS_OUTBOX is on, but the outbox's database is "
        "unknown: Tasks sent on commit follow a SQLAlchemy session, but app 'testapp' has no "
        "Flask-SQLAlchemy"
    )
