"""Fixtures of the app under test: its factory, settings, instance folder, client and CLI."""

from __future__ import annotations

import contextlib
import os
import secrets
import typing as t
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from .. import factory as factory_module
from ..cli import clifactory
from ..environ import env_prefix
from ..factory import load_application

CreateApp = t.Callable[..., Flask]

#: The secret key of the apps made by the fixtures: random, one per test run.
SECRET_KEY = secrets.token_hex(32)

#: Variables of the caller that the tests never see, besides the app's own
#: ``<PREFIX>_*``: Flask's command line reads ``FLASK_*``, and Celery reads
#: ``CELERY_BROKER_URL`` and ``CELERY_RESULT_BACKEND`` over any configuration.
HIDDEN_PREFIXES = ("FLASK_", "CELERY_")

NO_CREATE_APP = (
    "appfactory.core.testing has no app to test: define a fixture called create_app "
    "that returns your app factory, in the conftest.py that enables the plugin, e.g.\n\n"
    '    @pytest.fixture(scope="module")\n'
    "    def create_app():\n"
    "        return myapp.app.create_app\n"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "app_config(**settings): settings of this test's app, over the app_config fixture's",
    )


class _AppName(BaseException):
    """Raised instead of creating the app, to learn its name (a BaseException, so that
    a factory's ``except Exception`` does not swallow it)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def discover_app_name(create_app: CreateApp) -> str:
    """The name of the app that ``create_app`` makes, found without making it.

    ``create_app(load=False)`` is called with the factory stopped where it
    would create the instance folder, so that nothing is created, read or
    imported on the way.

    >>> from appfactory.core import appfactory
    >>> discover_app_name(lambda load=True, **kw: appfactory("greeter", None, load=load, **kw))
    'greeter'
    """

    def stop(app_name: str, *_: t.Any, **__: t.Any) -> t.NoReturn:
        raise _AppName(app_name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(factory_module, "make_flask_app", stop)
        try:
            made = create_app(load=False)
        except _AppName as found:
            return found.name
    pytest.fail(
        f"appfactory.core.testing cannot tell the name of the app that {create_app!r} "
        f"makes: it returned {made!r} without calling appfactory.core.appfactory(). Define "
        "a fixture called app_name that returns the app's name.",
        pytrace=False,
    )


def _hidden(name: str, prefix: str) -> bool:
    return name.startswith((f"{prefix}_", *HIDDEN_PREFIXES))


@contextlib.contextmanager
def isolated_environment(prefix: str, instance_path: str | os.PathLike[str]) -> t.Iterator[None]:
    """Hide the caller's ``<PREFIX>_*``, ``FLASK_*`` and ``CELERY_*`` variables and set
    ``<PREFIX>_INSTANCE_PATH``; afterwards, put the caller's variables back exactly.

    Variables of those names that the block sets, even through ``os.environ``
    directly, are removed at the end.

    >>> import os, tempfile
    >>> os.environ["GREETER_GREETING"] = "from the shell"
    >>> with isolated_environment("GREETER", tempfile.mkdtemp()):
    ...     os.environ.get("GREETER_GREETING")
    ...     os.environ["GREETER_LEFT_BEHIND"] = "by the block"
    >>> os.environ.pop("GREETER_GREETING"), os.environ.get("GREETER_LEFT_BEHIND")
    ('from the shell', None)
    """
    saved = {name: value for name, value in os.environ.items() if _hidden(name, prefix)}
    for name in saved:
        del os.environ[name]
    os.environ[f"{prefix}_INSTANCE_PATH"] = os.fspath(instance_path)
    try:
        yield
    finally:
        for name in [name for name in os.environ if _hidden(name, prefix)]:
            del os.environ[name]
        os.environ.update(saved)


class AppCliRunner(CliRunner):
    """Click's test runner that invokes the app's management command by default.

    Like Flask's ``app.test_cli_runner()``: ``cli_runner.invoke(args=["config", "show"])``.

    >>> from appfactory.core import appfactory, clifactory
    >>> cli = clifactory(lambda load=True, **kw: appfactory("dummyapp", None, load=load, **kw))
    >>> print(AppCliRunner(cli).invoke(args=["packages"]).output)
    No packages: list them in PACKAGES.
    <BLANKLINE>
    """

    def __init__(self, cli: click.Command, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.cli = cli

    # Flask's runner takes ``cli`` first and optional too; so does this one.
    def invoke(  # type: ignore[override]
        self, cli: t.Any = None, args: t.Any = None, **kwargs: t.Any
    ) -> Result:
        """Invoke ``cli`` (default: the app's management command) with ``args``."""
        return super().invoke(self.cli if cli is None else cli, args, **kwargs)


@pytest.fixture(scope="session")
def create_app() -> CreateApp:
    """The app factory under test: ``create_app(load=True, **settings)``. Override it.

    The default fails the test, saying how to define it.
    """
    pytest.fail(NO_CREATE_APP, pytrace=False)


@pytest.fixture
def app_name(create_app: CreateApp) -> str:
    """The name of the app that ``create_app`` makes (it gives the environment prefix)."""
    return discover_app_name(create_app)


def marked_settings(
    request: pytest.FixtureRequest, config: t.Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """``config`` with the settings of the test's ``app_config`` markers over it.

    Markers of the module, then the class, then the function: the closest wins.
    """
    settings = dict(config)
    for marker in reversed(list(request.node.iter_markers("app_config"))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.app_config takes settings as keywords, not {marker.args!r}; "
                "write @pytest.mark.app_config(MYMODULE_GREETING='Hi').",
                pytrace=False,
            )
        settings.update(marker.kwargs)
    return settings


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, t.Any]:
    """Settings of the app under test, given to ``create_app`` as keyword arguments.

    ``TESTING = True`` and a random ``SECRET_KEY``, updated with the parameter
    of an indirect parametrization. Override it in a module or a conftest for
    the settings of many tests; ``@pytest.mark.app_config(...)`` settings go
    over it in :func:`app` and :func:`cli`.
    """
    return {"TESTING": True, "SECRET_KEY": SECRET_KEY, **(getattr(request, "param", None) or {})}


@pytest.fixture(scope="module")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary instance folder, one per test module (never the app's real one)."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture
def app_environment(app_name: str, instance_path: Path) -> t.Iterator[str]:
    """The app's environment prefix (``"MYAPP"``), with the test's environment isolated.

    The caller's ``<PREFIX>_*``, ``FLASK_*`` and ``CELERY_*`` variables are
    hidden, ``<PREFIX>_INSTANCE_PATH`` is :func:`instance_path`, and every
    such variable is back as it was after the test.
    """
    prefix = env_prefix(app_name)
    with isolated_environment(prefix, instance_path):
        yield prefix


@pytest.fixture
def app(
    request: pytest.FixtureRequest,
    create_app: CreateApp,
    app_config: dict[str, t.Any],
    app_environment: str,  # noqa: ARG001 (made in the isolated environment)
) -> Flask:
    """The app, fully loaded, made by ``create_app(**app_config)`` with the settings of
    the test's ``app_config`` markers over them; no context is pushed."""
    return load_application(create_app(**marked_settings(request, app_config)))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of :func:`app`."""
    return app.test_client()


@pytest.fixture
def cli(
    request: pytest.FixtureRequest, create_app: CreateApp, app_config: dict[str, t.Any]
) -> click.Command:
    """The management command to test: ``clifactory(create_app, **app_config)`` (with the
    settings of the test's ``app_config`` markers over ``app_config``).

    Override it to test the command your users run, such as ``myapp.cli.cli``.
    """
    return clifactory(create_app, **marked_settings(request, app_config))


@pytest.fixture
def cli_runner(
    cli: click.Command,
    app_environment: str,  # noqa: ARG001 (commands run in the isolated environment)
) -> AppCliRunner:
    """A runner that invokes :func:`cli` in the test's process and environment."""
    return AppCliRunner(cli)
