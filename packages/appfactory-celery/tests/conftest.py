"""Fixtures shared by the appfactory-celery tests.

appfactory's pytest plugins (core's and this distribution's) give
``make_package``, ``redis_server`` and ``rabbitmq_server``, and their guards:
a test fails if it leaks an app or request context, uses Celery's default app
or leaves a Celery app current.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import pytest
from celery import _state

# postgres and dbapps: the database tests' fixtures (a PostgreSQL database of the
# run, the app wdb on it or on SQLite).
pytest_plugins = [
    "appfactory.core.testing",
    "appfactory.celery.testing",
    "pytester",
    "postgres",
    "dbapps",
]

PREFIXES = ("TESTAPP", "OTHERAPP", "WAPP", "MYAPP")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> t.Iterator[Path]:
    """A tmp instance folder per test, a clean environment, no leftover test modules."""
    for name in list(os.environ):
        if name.startswith(tuple(f"{p}_" for p in PREFIXES)) or name == "FLASK_DEBUG":
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    for prefix in PREFIXES:
        monkeypatch.setenv(f"{prefix}_INSTANCE_PATH", str(instance / prefix.lower()))
    modules_before = set(sys.modules)
    yield instance
    for name in set(sys.modules) - modules_before:
        path = getattr(sys.modules[name], "__file__", None) or ""
        if path.startswith(str(tmp_path)):
            del sys.modules[name]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--redis-restarts``: Redis restarts in the broker-restart reliability test;
    ``--race-sends``: sends per mode of the commit-race reliability test."""
    parser.addoption(
        "--redis-restarts",
        type=int,
        default=6,
        help="how many times the broker-restart reliability test restarts Redis under "
        "load (default 6; about 4 s each)",
    )
    parser.addoption(
        "--race-sends",
        type=int,
        default=200,
        help="sends per mode of the commit-race reliability test (default 200; the "
        "figures of docs/reliability.rst are of 1000)",
    )


# Celery creates its fallback default app the first time a shared task is looked
# up in a process; create it now so that the tests can check it stays untouched.
_FALLBACK = _state.get_current_app()
_FALLBACK_BROKER = _FALLBACK.conf.broker_url


@pytest.fixture(autouse=True)
def _celery_state_untouched() -> t.Iterator[None]:
    """Fail a test that configures Celery's fallback default app or binds a Flask app to it.

    Leaked contexts, a replaced default app and a Celery app left current are
    the plugin's guards' to catch (``no_leaked_context``, ``isolated_celery_state``).
    """
    yield
    assert not hasattr(_FALLBACK, "flask_app"), "a Flask app was bound to Celery's default app"
    assert _FALLBACK.conf.broker_url == _FALLBACK_BROKER, "Celery's default app was configured"


@pytest.fixture(autouse=True)
def _forget_test_shared_tasks(tmp_path: Path) -> t.Iterator[None]:
    """Forget the ``@shared_task`` functions defined under this test's folder.

    Celery adds every shared task ever defined to each Celery app created
    later; the tasks of a test's packages must not reach other tests' apps.
    """
    yield
    from appfactory.celery.testing import forget_shared_tasks

    forget_shared_tasks([str(tmp_path)])
