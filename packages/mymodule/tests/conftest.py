"""Fixtures of the mymodule tests: an app made of mymodule alone."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask.globals import _cv_app, _cv_request

from appfactory.core import appfactory

SECRET_KEY = "mymodule-tests-not-secret"


@pytest.fixture(autouse=True)
def instance_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test gets its own instance folder and none of the caller's variables."""
    for name in list(os.environ):
        if name.startswith("TESTAPP_") or name.startswith("FLASK_"):
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(instance))
    return instance


@pytest.fixture(autouse=True)
def _no_leaked_context() -> t.Iterator[None]:
    """Fail a test that leaves an app or request context pushed."""
    yield
    assert _cv_request.get(None) is None, "the test leaked a request context"
    assert _cv_app.get(None) is None, "the test leaked an app context"


def create_app(load: bool = True, **config: t.Any) -> Flask:
    """``testapp``: an app whose only package is mymodule."""
    config = {"PACKAGES": ["mymodule"], "TESTING": True, "SECRET_KEY": SECRET_KEY, **config}
    return appfactory("testapp", None, load=load, **config)


@pytest.fixture
def app() -> Flask:
    return create_app()


@pytest.fixture
def make_app() -> t.Callable[..., Flask]:
    """``make_app(**config)``: the app with more settings."""
    return create_app
