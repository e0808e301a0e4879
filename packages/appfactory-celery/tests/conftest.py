"""Fixtures shared by the appfactory-celery tests."""

from __future__ import annotations

import os
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from celery import _state
from flask.globals import _cv_app, _cv_request
from servers import Server, start_rabbitmq, start_redis

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


# Celery creates its fallback default app the first time a shared task is looked
# up in a process; create it now so that the tests can check it stays untouched.
_FALLBACK = _state.get_current_app()
_FALLBACK_BROKER = _FALLBACK.conf.broker_url


@pytest.fixture(autouse=True)
def _celery_state_untouched() -> t.Iterator[None]:
    """Fail a test that leaks a context, changes Celery's default app or its current app."""
    current_before = getattr(_state._tls, "current_app", None)
    yield
    assert _cv_request.get(None) is None, "the test leaked a request context"
    assert _cv_app.get(None) is None, "the test leaked an app context"
    assert _state.default_app is _FALLBACK, "the test replaced Celery's default app"
    assert not hasattr(_FALLBACK, "flask_app"), "a Flask app was bound to Celery's default app"
    assert _FALLBACK.conf.broker_url == _FALLBACK_BROKER, "Celery's default app was configured"
    assert getattr(_state._tls, "current_app", None) is current_before, (
        "the test left another Celery app current"
    )


@pytest.fixture
def make_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> t.Callable[[str, dict[str, str]], Path]:
    """Write a package ``name`` with ``{relative path: source}``, importable in this test."""
    root = tmp_path / "packages"
    root.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(root))

    def make(name: str, files: dict[str, str]) -> Path:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for relative, source in {"__init__.py": "", **files}.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return root

    return make


@pytest.fixture(scope="session")
def redis_server() -> t.Iterator[Server]:
    """A Redis server on loopback (the machine's, or one started for this run)."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq_server() -> t.Iterator[Server]:
    """A RabbitMQ server on loopback (the machine's, or one started for this run)."""
    server = start_rabbitmq()
    yield server
    server.stop()
