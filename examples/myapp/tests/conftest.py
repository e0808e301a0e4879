"""Fixtures of the example's tests, from appfactory's pytest plugin.

The plugins give ``app``, ``client``, ``cli_runner`` (core's), ``celery_app``,
``celery_worker`` (appfactory-celery's) and the guards; this file says which app and which command
to test, and gives each test an instance folder of its own.
"""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import click
import pytest
from click.testing import Result
from flask import Flask

import myapp.app
import myapp.cli

if t.TYPE_CHECKING:
    from appfactory.core.testing import AppCliRunner

pytest_plugins = [
    "appfactory.core.testing",
    "appfactory.celery.testing",
    "appfactory.core.testing.postgres",
    "pytester",
]


@pytest.fixture(scope="session")
def create_app() -> t.Callable[..., Flask]:
    return myapp.app.create_app


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    """One instance folder per test: tests write the instance file and the database."""
    return tmp_path / "instance"


@pytest.fixture(autouse=True)
def _isolated(app_environment: str) -> None:
    """The plugin's isolated environment in every test, also where the app is made by hand
    and where the ``myapp`` script runs (it inherits ``MYAPP_INSTANCE_PATH``)."""


@pytest.fixture
def cli() -> click.Command:
    """The ``myapp`` command as installed: the configuration users get, no test settings."""
    return myapp.cli.cli


@pytest.fixture
def invoke(cli_runner: AppCliRunner) -> t.Callable[..., Result]:
    """``invoke(*args)``: run the ``myapp`` command in-process and return its result."""

    def run(*args: str) -> Result:
        return cli_runner.invoke(args=list(args))

    return run


@pytest.fixture
def fresh_wsgi() -> t.Iterator[None]:
    """Import ``myapp.wsgi`` anew in the test, and forget it afterwards."""
    sys.modules.pop("myapp.wsgi", None)
    yield
    sys.modules.pop("myapp.wsgi", None)
