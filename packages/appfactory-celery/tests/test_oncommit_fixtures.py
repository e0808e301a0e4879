"""The pytest plugin's Celery fixtures with tasks sent on commit: as in production, the
task runs after the commit, both eagerly (``celery_app``) and in a real worker
(``celery_worker``). The app under test is ``wdb`` on a SQLite file."""

from __future__ import annotations

import sys
import time
import typing as t
from pathlib import Path

import pytest
from dbapps import seen
from flask import Flask
from workers import WORKER_APPS


@pytest.fixture(scope="module")
def create_app() -> t.Iterator[t.Callable[..., Flask]]:
    sys.path.insert(0, str(WORKER_APPS))
    from wdb.app import create_app

    yield create_app
    sys.path.remove(str(WORKER_APPS))


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, t.Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fixtures.sqlite'}",
    }


@pytest.fixture
def tables(app: Flask) -> t.Iterator[None]:
    from wdb.database import db

    with app.app_context():
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def write_and_send(app: Flask) -> tuple[int, str, int]:
    """Write an item, send ``look`` on commit, commit: ``(item, task id, runs before)``."""
    from wdb.database import db
    from wdb.models import Item
    from wdb.tasks import look

    with app.app_context():
        item = Item(name="fixture")
        db.session.add(item)
        db.session.flush()
        task_id = look.delay_on_commit(item.id)
        time.sleep(0.05)  # a worker that had the task now would run it before the commit
        before = len(seen(app))
        db.session.commit()
        return int(item.id), task_id, before


@pytest.mark.usefixtures("tables")
def test_eager_celery_app_runs_the_task_after_the_commit(app: Flask, celery_app: t.Any) -> None:
    assert celery_app.conf.task_always_eager
    item_id, task_id, before = write_and_send(app)
    assert before == 0
    assert seen(app) == [(item_id, task_id, True)]


@pytest.mark.usefixtures("tables")
def test_celery_worker_gets_the_task_after_the_commit(app: Flask, celery_worker: t.Any) -> None:
    item_id, task_id, before = write_and_send(app)
    assert before == 0
    deadline = time.monotonic() + 30
    while not seen(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen(app) == [(item_id, task_id, True)]
