"""Fixtures of the example's tests: a private instance folder and environment."""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.globals import _cv_app, _cv_request

from myapp.app import create_app
from myapp.cli import cli

SECRET_KEY = "myapp-tests-not-secret"


@pytest.fixture(autouse=True)
def instance_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test gets its own instance folder and none of the caller's MYAPP_* variables."""
    for name in list(os.environ):
        if name.startswith(("MYAPP_", "FLASK_")):
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    monkeypatch.setenv("MYAPP_INSTANCE_PATH", str(instance))
    return instance


@pytest.fixture(autouse=True)
def _no_leaked_context() -> t.Iterator[None]:
    """Fail a test that leaves an app or request context pushed."""
    yield
    assert _cv_request.get(None) is None, "the test leaked a request context"
    assert _cv_app.get(None) is None, "the test leaked an app context"


@pytest.fixture
def app() -> Flask:
    """myapp as ``create_app()`` makes it, with a secret key so that it serves."""
    return create_app(SECRET_KEY=SECRET_KEY)


@pytest.fixture
def invoke() -> t.Callable[..., Result]:
    """``invoke(*args)``: run the ``myapp`` command in-process and return its result."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args))

    return run


@pytest.fixture
def fresh_wsgi() -> t.Iterator[None]:
    """Import ``myapp.wsgi`` anew in the test, and forget it afterwards."""
    sys.modules.pop("myapp.wsgi", None)
    yield
    sys.modules.pop("myapp.wsgi", None)
