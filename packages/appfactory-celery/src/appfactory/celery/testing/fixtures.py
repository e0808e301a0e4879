"""Celery's pytest fixtures (``celery.contrib.pytest``'s names and scopes), bound to the
Flask app under test: an eager Celery app, a worker per test, a worker per session.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import load_application
from appfactory.core.testing import (
    SECRET_KEY,
    discover_app_name,
    env_prefix,
    isolated_environment,
)
from celery import _state

from ..discovery import load_tasks
from ..factory import celeryfactory
from .workers import purge, running_worker, worker_settings

if t.TYPE_CHECKING:
    from celery import Celery
    from celery.worker import WorkController

#: Settings of the ``celery_app`` fixture without a worker, under ``celery_config``:
#: tasks run where they are called, their results are stored, their exceptions raised.
EAGER_SETTINGS: dict[str, t.Any] = {
    "task_always_eager": True,
    "task_eager_propagates": True,
    "task_store_eager_result": True,
    "broker_url": "memory://",
    "result_backend": "cache+memory://",
}

OTHER_PLUGIN = (
    "appfactory.celery.testing and Celery's plugin celery.contrib.pytest are both enabled; "
    "they define the same fixtures. Keep appfactory.celery.testing (Celery's fixtures, "
    "bound to your Flask app) and remove celery.contrib.pytest from pytest_plugins (or "
    "run with -p no:celery)."
)


def pytest_configure(config: pytest.Config) -> None:
    manager = config.pluginmanager
    if manager.has_plugin("celery.contrib.pytest") or manager.has_plugin("celery"):
        raise pytest.UsageError(OTHER_PLUGIN)
    config.addinivalue_line(
        "markers",
        "celery(**settings): Celery settings of this test's celery_app and celery_worker, "
        "over celery_config",
    )
    config.addinivalue_line(
        "markers",
        "celery_broker(kind): the broker of this test's celery_worker: 'memory' (the "
        "default), 'embedded', 'redis', or a broker URL",
    )


def pytest_collection(session: pytest.Session) -> None:
    """Refuse Celery's plugin registered after this one, before any test runs."""
    manager = session.config.pluginmanager
    if manager.has_plugin("celery.contrib.pytest") or manager.has_plugin("celery"):
        raise pytest.UsageError(OTHER_PLUGIN)


def configure_celery(app: Flask, settings: t.Mapping[str, t.Any]) -> Celery:
    """The Celery app of ``app`` with ``settings`` over its own, and its tasks loaded.

    The settings are applied before the packages' tasks are loaded, since a
    task reads some of them (``task_store_eager_result``, ``task_acks_late``,
    ...) when it joins the app; tasks that joined earlier get them too.
    """
    celery = celeryfactory(app, load_tasks=False)
    celery.conf.update(settings)
    # The queues and the result backend are made from the settings on first use.
    vars(celery).pop("amqp", None)
    celery._backend_cache = None
    vars(celery._local).pop("backend", None)
    if celery.finalized:
        for task in celery.tasks.values():
            for attribute, name in getattr(task, "from_config", ()):
                if name in settings:
                    setattr(task, attribute, settings[name])
    load_tasks(app)
    return celery


def marked_settings(request: pytest.FixtureRequest) -> dict[str, t.Any]:
    """The settings of the test's ``celery`` markers (module, class, function: closest wins)."""
    settings: dict[str, t.Any] = {}
    for marker in reversed(list(request.node.iter_markers("celery"))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.celery takes settings as keywords, not {marker.args!r}; "
                "write @pytest.mark.celery(task_acks_late=True).",
                pytrace=False,
            )
        settings.update(marker.kwargs)
    return settings


def refuse_parameters(parameters: t.Mapping[str, t.Any]) -> None:
    """``celery_parameters`` make a new ``Celery(...)``; here the app's Celery app is used."""
    if parameters:
        pytest.fail(
            f"celery_parameters is {dict(parameters)!r}, but appfactory.celery.testing uses "
            "the Flask app's own Celery app (celeryfactory(app)), made by no Celery(...) "
            "call of the tests: give settings in celery_config instead.",
            pytrace=False,
        )


def add_tasks(celery: Celery, includes: t.Sequence[str], class_tasks: t.Sequence[t.Any]) -> None:
    """Import ``celery_includes`` and register ``celery_class_tasks``, as Celery's plugin does."""
    for module in includes:
        celery.loader.import_task_module(module)
    for task in class_tasks:
        celery.register_task(task)


# Celery's fixtures of configuration, with Celery's names, scopes and defaults.


@pytest.fixture(scope="session")
def celery_config() -> t.Mapping[str, t.Any]:
    """Celery settings, under Celery's own names, over those of every Celery fixture.
    Override it; the default is empty."""
    return {}


@pytest.fixture(scope="session")
def celery_parameters() -> t.Mapping[str, t.Any]:
    """Celery's arguments of ``Celery(...)``: must stay empty here (the app's Celery
    app is used); a test that overrides it fails, saying so."""
    return {}


@pytest.fixture(scope="session")
def celery_worker_parameters() -> t.Mapping[str, t.Any]:
    """Arguments of the workers (``start_worker``), such as ``{"queues": ...}``,
    over ours (solo pool, no ping check). Override it; the default is empty."""
    return {}


@pytest.fixture(scope="session")
def celery_includes() -> t.Sequence[str]:
    """Modules the workers import before they start (besides the packages' tasks)."""
    return ()


@pytest.fixture(scope="session")
def celery_class_tasks() -> t.Sequence[t.Any]:
    """Class-based tasks registered on the Celery app of the workers."""
    return []


@pytest.fixture(scope="session")
def celery_worker_pool() -> t.Any:
    """The workers' pool: ``"solo"``, as in Celery's plugin."""
    return "solo"


@pytest.fixture(scope="session")
def celery_enable_logging() -> bool:
    """Whether the workers set up Celery's logging (off: the test's logging is kept)."""
    return False


@pytest.fixture(scope="session")
def use_celery_app_trap() -> bool:
    """Off (Celery's default): in a test that uses :func:`celery_session_app`, that app
    is Celery's current app, so shared tasks sent outside any app context reach it.
    On: they raise :class:`~appfactory.celery.testing.CeleryDefaultAppError` there too.
    Celery's default app is trapped in every test either way."""
    return False


@pytest.fixture(scope="session")
def celery_session_broker() -> str:
    """The broker of :func:`celery_session_worker`, as :func:`celery_broker` names them:
    ``"memory"`` (the default), ``"embedded"``, ``"redis"`` or a URL. Override it."""
    return "memory"


@pytest.fixture
def celery_broker(request: pytest.FixtureRequest) -> str:
    """The broker of ``celery_worker``: ``"memory"``, ``"embedded"``, ``"redis"`` or a URL.

    The parameter of an indirect parametrization, else the closest
    ``@pytest.mark.celery_broker(...)`` marker, else ``"memory"``.
    """
    param = getattr(request, "param", None)
    if param is not None:
        return str(param)
    marker = request.node.get_closest_marker("celery_broker")
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs:
            pytest.fail(
                "@pytest.mark.celery_broker takes one argument, such as "
                f"@pytest.mark.celery_broker('redis'), not {marker.args!r} {marker.kwargs!r}.",
                pytrace=False,
            )
        return str(marker.args[0])
    return "memory"


# One test's Celery app and worker, of the test's Flask app.


@pytest.fixture
def celery_app(
    request: pytest.FixtureRequest,
    app: Flask,
    celery_config: t.Mapping[str, t.Any],
    celery_parameters: t.Mapping[str, t.Any],
    celery_class_tasks: t.Sequence[t.Any],
    celery_broker: str,
) -> Celery:
    """The Celery app of :func:`app` (``celery_app.flask_app is app``).

    With :func:`celery_worker` in the test, it is the worker's app; without,
    its tasks run eagerly, with their results stored and exceptions raised.
    ``celery_config`` and the ``celery`` markers go over both.
    """
    refuse_parameters(celery_parameters)
    if "celery_worker" in request.fixturenames:
        settings = worker_settings(app, celery_broker, request, "celery_broker")
    else:
        settings = dict(EAGER_SETTINGS)
    celery = configure_celery(app, {**settings, **celery_config, **marked_settings(request)})
    for task in celery_class_tasks:
        celery.register_task(task)
    return celery


@pytest.fixture
def celery_worker(
    celery_app: Celery,
    celery_includes: t.Sequence[str],
    celery_worker_pool: t.Any,
    celery_worker_parameters: t.Mapping[str, t.Any],
    celery_enable_logging: bool,
) -> t.Iterator[WorkController]:
    """A real Celery worker of :func:`app`, in a thread, for the test.

    Tasks sent in the app's context go through the broker named by
    :func:`celery_broker` (in memory by default) to the worker, which runs
    them in the app's context. The worker consumes from a queue of this test
    only. ``celery_worker.app`` is :func:`celery_app`.
    """
    add_tasks(celery_app, celery_includes, ())
    options = {"pool": celery_worker_pool, **celery_worker_parameters}
    with running_worker(celery_app, enable_logging=celery_enable_logging, **options) as worker:
        yield worker
        purge(celery_app)


@pytest.fixture
def depends_on_current_app(celery_app: Celery) -> t.Iterator[None]:
    """:func:`celery_app` is Celery's current app during the test (then no longer)."""
    before = getattr(_state._tls, "current_app", None)
    celery_app.set_current()
    yield
    _state._set_current_app(before)


# The session's Flask app, Celery app and worker.


def session_create_app(request: pytest.FixtureRequest) -> t.Callable[..., Flask]:
    """The ``create_app`` fixture, which the session fixtures need of scope session."""
    try:
        create_app: t.Callable[..., Flask] = request.getfixturevalue("create_app")
    except pytest.fail.Exception as exc:
        if "ScopeMismatch" not in str(exc):
            raise
        pytest.fail(
            "celery_session_app needs a create_app fixture of scope session: declare it "
            "with @pytest.fixture(scope='session') in your conftest.py.",
            pytrace=False,
        )
    return create_app


@pytest.fixture(scope="session")
def celery_session_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    celery_session_broker: str,
    celery_config: t.Mapping[str, t.Any],
    celery_parameters: t.Mapping[str, t.Any],
    celery_class_tasks: t.Sequence[t.Any],
) -> Celery:
    """The Celery app of a Flask app made once for the session, for
    :func:`celery_session_worker`.

    The Flask app is ``create_app(TESTING=True, SECRET_KEY=...)`` (``create_app``
    of scope session), made in an isolated environment with an instance
    folder of its own; it is ``celery_session_app.flask_app``.
    """
    refuse_parameters(celery_parameters)
    create_app = session_create_app(request)
    folder: Path = tmp_path_factory.mktemp("session-instance")
    with isolated_environment(env_prefix(discover_app_name(create_app)), folder):
        flask_app = load_application(create_app(TESTING=True, SECRET_KEY=SECRET_KEY))
    settings = worker_settings(flask_app, celery_session_broker, request, "celery_session_broker")
    celery = configure_celery(flask_app, {**settings, **celery_config})
    for task in celery_class_tasks:
        celery.register_task(task)
    return celery


@pytest.fixture(scope="session")
def celery_session_worker(
    celery_session_app: Celery,
    celery_includes: t.Sequence[str],
    celery_worker_pool: t.Any,
    celery_worker_parameters: t.Mapping[str, t.Any],
    celery_enable_logging: bool,
) -> t.Iterator[WorkController]:
    """A real Celery worker of :func:`celery_session_app`, in a thread, for the session."""
    add_tasks(celery_session_app, celery_includes, ())
    options = {"pool": celery_worker_pool, **celery_worker_parameters}
    with running_worker(
        celery_session_app, enable_logging=celery_enable_logging, **options
    ) as worker:
        yield worker
        purge(celery_session_app)
