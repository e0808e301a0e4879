"""Tasks sent on commit: after the commit, never on rollback, at once without a transaction.

The app ``wdb`` (Flask-SQLAlchemy) on SQLite and on PostgreSQL, tasks run
eagerly: a task that runs writes a ``Seen`` row, so "sent" shows as a row.
"""

from __future__ import annotations

import logging
import re
import typing as t

import click
import pytest
from celery import chain
from dbapps import EAGER, seen
from flask import Flask
from servers import free_port
from sqlalchemy import create_engine, text
from sqlalchemy.orm import scoped_session, sessionmaker

from appfactory.celery import (
    BrokerUnavailableError,
    TaskArgumentError,
    celeryfactory,
    send_on_commit,
)
from appfactory.core import AppFactoryError, ConfigError, appfactory

MakeApp = t.Callable[..., Flask]


def add_item(name: str = "row") -> int:
    from wdb.database import db
    from wdb.models import Item

    item = Item(name=name)
    db.session.add(item)
    db.session.flush()
    return int(item.id)


def test_sent_after_the_commit_not_at_the_call(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        item_id = add_item()
        task_id = look.delay_on_commit(item_id)
        assert seen(app) == []
        db.session.commit()
        assert seen(app) == [(item_id, task_id, True)]


def test_rolled_back_transaction_sends_nothing(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        look.delay_on_commit(add_item())
        db.session.rollback()
        db.session.commit()  # a later commit does not send it either
    assert seen(app) == []


def test_session_closed_without_commit_sends_nothing(make_wdb: MakeApp) -> None:
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        look.delay_on_commit(add_item())
    # The app context ended: Flask-SQLAlchemy removed (closed) the session.
    with app.app_context():
        assert seen(app) == []


def test_no_transaction_open_sends_at_once(make_wdb: MakeApp) -> None:
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        task_id = look.delay_on_commit(12345)
        assert seen(app) == [(12345, task_id, False)]
    # Outside any app context the app's db.session has no transaction either.
    look_task = celeryfactory(app).tasks["wdb.tasks.look"]
    task_id = look_task.delay_on_commit(54321)
    assert seen(app)[-1] == (54321, task_id, False)


def test_savepoints(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        kept = add_item("kept")
        with db.session.begin_nested():
            released = add_item("released")
            in_released = look.delay_on_commit(released)
        savepoint = db.session.begin_nested()
        dropped = look.delay_on_commit(add_item("dropped"))
        savepoint.rollback()
        outer = db.session.begin_nested()
        with db.session.begin_nested():
            # Released into a savepoint that then rolls back: dropped too.
            inner = look.delay_on_commit(add_item("inner"))
        outer.rollback()
        in_root = look.delay_on_commit(kept)
        assert seen(app) == []
        db.session.commit()
        ran = {task_id for _, task_id, _ in seen(app)}
    assert ran == {in_released, in_root}
    assert dropped not in ran
    assert inner not in ran


def test_begin_block_and_apply_async_options(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        with db.session.begin():
            item_id = add_item()
            task_id = look.apply_async_on_commit((item_id,), task_id="chosen-id", countdown=0)
            assert task_id == "chosen-id"
            assert seen(app) == []
        assert seen(app) == [(item_id, "chosen-id", True)]


def test_signatures_and_chains(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        first, second = add_item(), add_item()
        single = send_on_commit(look.s(first))
        last = send_on_commit(chain(look.si(first), look.si(second)))
        assert seen(app) == []
        db.session.commit()
        rows = seen(app)
    assert [(item, found) for item, _, found in rows] == [
        (first, True),
        (first, True),
        (second, True),
    ]
    assert rows[0][1] == single
    assert rows[2][1] == last


def test_a_task_that_sends_on_commit(make_wdb: MakeApp) -> None:
    from wdb.tasks import add_and_look

    app = make_wdb()
    with app.app_context():
        item_id = add_and_look.delay("from a task").get()
    assert seen(app) == [(item_id, seen(app)[0][1], True)]


def test_a_command_that_sends_on_commit(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()

    @app.cli.command("additem")
    def additem() -> None:
        item_id = add_item()
        look.delay_on_commit(item_id)
        click.echo(f"sent={len(seen(app))}")
        db.session.commit()
        click.echo(f"after commit={len(seen(app))}")

    result = app.test_cli_runner().invoke(args=["additem"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["sent=0", "after commit=1"]


def test_a_view_that_sends_on_commit(make_wdb: MakeApp) -> None:
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()

    @app.post("/items")
    def create_item() -> dict[str, t.Any]:
        item_id = add_item()
        look.delay_on_commit(item_id)
        before = len(seen(app))
        db.session.commit()
        return {"before": before, "after": len(seen(app))}

    assert app.test_client().post("/items").get_json() == {"before": 0, "after": 1}


def test_broker_down_after_the_commit_raises_and_keeps_the_data(
    make_wdb: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    from wdb.database import db
    from wdb.models import Item
    from wdb.tasks import look

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    app = make_wdb(
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_BROKER_URL=url,
        CELERY_RESULT_BACKEND=None,
        CELERY_TASK_PUBLISH_RETRY_POLICY={"max_retries": 0},
        CELERY_BROKER_CONNECTION_TIMEOUT=1,
    )
    caplog.set_level(logging.ERROR, "appfactory.celery.oncommit")
    with app.app_context():
        item_id = add_item()
        look.delay_on_commit(item_id)
        with pytest.raises(BrokerUnavailableError, match="was not sent: the broker redis"):
            db.session.commit()
    with app.app_context():
        assert db.session.get(Item, item_id) is not None
    assert "hunter2" not in caplog.text
    assert re.search(r"Not sent after the commit of its transaction .*TASKS_OUTBOX", caplog.text)


def test_a_session_named_by_tasks_session(make_wdb: MakeApp, database_url: str) -> None:
    from wdb.tasks import look

    engine = create_engine(database_url)
    session = scoped_session(sessionmaker(engine))
    app = make_wdb(TASKS_SESSION=session)
    try:
        with app.app_context():
            session.execute(text("SELECT 1"))
            task_id = look.delay_on_commit(1)
            assert seen(app) == []
            session.commit()
            assert [row[1] for row in seen(app)] == [task_id]
            # A session given to the call wins over the setting.
            other = sessionmaker(engine)()
            other.execute(text("SELECT 1"))
            look.apply_async_on_commit((2,), session=other)
            other.rollback()
            assert len(seen(app)) == 1
            other.close()
    finally:
        session.remove()
        engine.dispose()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "no.such.module:Session",
            "TASKS_SESSION='no.such.module:Session': module 'no.such.module' cannot be imported",
        ),
        ("sqlalchemy.orm", "is not an import path of the form 'package.module:name'"),
        ("sqlalchemy.orm:Nothing", "module 'sqlalchemy.orm' has no 'Nothing'. Fix the path."),
        (sessionmaker(), "is a sessionmaker, which makes a new session at each call"),
        ("sqlalchemy:text", "is a function, not the session your code writes with"),
    ],
)
def test_bad_tasks_session(make_wdb: MakeApp, setting: t.Any, message: str) -> None:
    from wdb.tasks import look

    app = make_wdb(TASKS_SESSION=setting)
    with app.app_context(), pytest.raises(ConfigError, match=re.escape(message)):
        look.delay_on_commit(1)


def test_an_app_without_a_session_is_told_what_to_set() -> None:
    app = appfactory("testapp", None, EXTENSIONS=["appfactory.celery"], SECRET_KEY="x", **EAGER)
    celery = celeryfactory(app)

    @celery.task(name="testapp.noop")
    def noop() -> None:
        return None

    with app.app_context(), pytest.raises(ConfigError, match="has no Flask-SQLAlchemy"):
        noop.delay_on_commit()


def test_a_celery_app_without_flask_app() -> None:
    from celery import Celery

    from appfactory.celery import AppContextTask

    celery = Celery("lonely", set_as_current=False, task_cls=AppContextTask)

    @celery.task(name="lonely.noop")
    def noop() -> None:
        return None

    with pytest.raises(AppFactoryError, match="its Celery app 'lonely' has no Flask app"):
        noop.delay_on_commit()


def test_settings_are_declared_with_their_defaults(make_wdb: MakeApp) -> None:
    from appfactory.core import check_app, get_registry

    app = make_wdb()
    assert app.config["TASKS_SESSION"] is None
    assert app.config["TASKS_OUTBOX"] is False
    assert app.config["TASKS_OUTBOX_RELAY_INTERVAL"] == 1.0
    registry = get_registry(app)
    origin = registry.history.origin("TASKS_OUTBOX")
    assert origin is not None
    assert origin.source == "appfactory.celery"
    assert not [p for p in check_app(app) if "TASKS_" in p.message]


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("0", False), ("yes", True), (True, True)]
)
def test_tasks_outbox_from_the_environment(make_wdb: MakeApp, value: t.Any, expected: bool) -> None:
    from appfactory.celery.sessions import outbox_enabled

    assert outbox_enabled(make_wdb(TASKS_OUTBOX=value)) is expected


def test_bad_tasks_outbox_value(make_wdb: MakeApp) -> None:
    from appfactory.celery.sessions import outbox_enabled, relay_interval

    with pytest.raises(ConfigError, match="TASKS_OUTBOX must be true or false, not 'maybe'"):
        outbox_enabled(make_wdb(TASKS_OUTBOX="maybe"))
    with pytest.raises(ConfigError, match="TASKS_OUTBOX_RELAY_INTERVAL must be a number"):
        relay_interval(make_wdb(TASKS_OUTBOX_RELAY_INTERVAL="soon"))


def test_the_web_side_does_not_import_sqlalchemy_for_celery(tmp_path: t.Any) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from appfactory.core import appfactory\n"
        "app = appfactory('testapp', None, EXTENSIONS=['appfactory.celery'], SECRET_KEY='x')\n"
        "names = ('sqlalchemy', 'flask_sqlalchemy')\n"
        "print(sorted(m for m in sys.modules if m.startswith(names)))\n"
    )
    env = {"TESTAPP_INSTANCE_PATH": str(tmp_path / "instance"), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"


def test_what_a_worker_would_refuse_is_refused_at_the_call(make_wdb: MakeApp) -> None:
    """Not after the commit: the caller is still there to be told, and nothing is queued."""
    from wdb.database import db
    from wdb.tasks import look

    app = make_wdb()
    with app.app_context():
        item_id = add_item()
        with pytest.raises(
            TaskArgumentError, match=r"argument args\[0\] is a dict with the key 1 "
        ):
            look.delay_on_commit({1: item_id})
        with pytest.raises(TaskArgumentError, match="its serializer is 'pickle', but workers"):
            look.apply_async_on_commit((item_id,), serializer="pickle")
        db.session.commit()
    assert seen(app) == []
