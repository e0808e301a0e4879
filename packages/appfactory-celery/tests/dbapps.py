"""The database tests' app ``wdb`` (tests/worker_apps/wdb), made in the test process.

``database_url`` is parametrised over SQLite (a file in the test's folder)
and PostgreSQL (a database of this test run, see :mod:`postgres`); each app
made by ``make_wdb`` has its tables created, and dropped after the test.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from workers import WORKER_APPS

#: Celery settings of an app whose tasks run eagerly (no broker, no result backend files).
EAGER = {
    "CELERY_TASK_ALWAYS_EAGER": True,
    "CELERY_TASK_EAGER_PROPAGATES": True,
    "CELERY_BROKER_URL": "memory://",
    "CELERY_RESULT_BACKEND": "cache+memory://",
}


def isolate_wdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``WDB_*`` variable of the caller; an instance folder of the test's own."""
    for name in list(os.environ):
        if name.startswith("WDB_"):
            monkeypatch.delenv(name)
    instance = tmp_path / "instance-wdb"
    monkeypatch.setenv("WDB_INSTANCE_PATH", str(instance))
    return instance


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file of the test, or this run's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wdb.sqlite'}"
    return t.cast(str, request.getfixturevalue("postgres_url"))


@pytest.fixture
def make_wdb(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> t.Iterator[t.Callable[..., Flask]]:
    """``make_wdb(**settings)``: the app ``wdb`` on ``database_url``, eager unless told."""
    isolate_wdb(monkeypatch, tmp_path)
    monkeypatch.syspath_prepend(str(WORKER_APPS))
    from wdb.app import create_app
    from wdb.database import db

    from appfactory.celery import celeryfactory

    made: list[Flask] = []

    def make(**settings: t.Any) -> Flask:
        app = create_app(**{"SQLALCHEMY_DATABASE_URI": database_url, **EAGER, **settings})
        celeryfactory(app)
        with app.app_context():
            db.drop_all()
            db.create_all()
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def seen(app: Flask) -> list[tuple[int, str, bool]]:
    """``(item_id, task_id, found)`` of every run of ``look``, from a fresh session."""
    from wdb.database import db
    from wdb.models import Seen

    with app.app_context():
        rows = db.session.execute(db.select(Seen).order_by(Seen.id)).scalars().all()
        return [(row.item_id, row.task_id, row.found) for row in rows]
