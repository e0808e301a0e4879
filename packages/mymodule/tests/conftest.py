"""Fixtures of the mymodule tests: an app made of mymodule alone.

appfactory's pytest plugins give the fixtures (``app``, ``client``, ``cli_runner``;
``database_app`` and ``db_session``, on mymodule's migrations; ``celery_app`` where
appfactory-celery is installed) and their guards; this file says which app to test.
"""

from __future__ import annotations

import importlib.util
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import appfactory

pytest_plugins = ["appfactory.core.testing", "appfactory.sqlalchemy.testing"]
if importlib.util.find_spec("appfactory.celery") is not None:
    # The Celery fixtures, where mymodule[celery] is installed.
    pytest_plugins.append("appfactory.celery.testing")


def create_testapp(load: bool = True, **config: t.Any) -> Flask:
    """``testapp``: an app whose only package is mymodule, with the database its models use."""
    settings = {"PACKAGES": ["mymodule"], "EXTENSIONS": ["appfactory.sqlalchemy"], **config}
    return appfactory("testapp", None, load=load, **settings)


@pytest.fixture(scope="session")
def create_app() -> t.Callable[..., Flask]:
    return create_testapp


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    """One instance folder per test: tests write templates and instance files into it."""
    return tmp_path / "instance"


@pytest.fixture(autouse=True)
def _isolated(app_environment: str) -> None:
    """The plugin's isolated environment in every test, also where the app is made by hand."""


@pytest.fixture
def make_app(
    create_app: t.Callable[..., Flask], app_config: dict[str, t.Any]
) -> t.Callable[..., Flask]:
    """``make_app(**config)``: the app with more settings."""

    def make(**config: t.Any) -> Flask:
        return create_app(**{**app_config, **config})

    return make
