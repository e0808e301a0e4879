"""Celery fixtures: an eager Celery app and a real worker, both bound to the test's app.

appfactory-celery is imported only when a test asks for one of these
fixtures; without it the test fails with a message that says so.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import typing as t
import uuid
from types import ModuleType

import pytest
from flask import Flask

from ..errors import describe_exception

if t.TYPE_CHECKING:
    from celery import Celery
    from celery.worker import WorkController

#: Settings of the ``celery_app`` fixture, under ``celery_config``: tasks run
#: where they are called, their results are stored, their exceptions raised.
EAGER_SETTINGS: dict[str, t.Any] = {
    "task_always_eager": True,
    "task_eager_propagates": True,
    "task_store_eager_result": True,
    "broker_url": "memory://",
    "result_backend": "cache+memory://",
}

#: Seconds between two looks of the worker at the in-memory broker.
MEMORY_POLLING_INTERVAL = 0.01

#: The worker's result backend: Celery's ``cache+memory://``, polled often
#: (see :class:`~appfactory.core.testing.results.MemoryResultBackend`).
MEMORY_RESULT_BACKEND = "appfactory.core.testing.results:MemoryResultBackend+memory://"

#: The Redis database of ``celery_broker = "redis"`` (out of the way of database 0).
REDIS_DB = 15

#: Seconds of the worker's waits for a message on Redis (kombu's default is 1).
REDIS_POLLING_INTERVAL = 0.1

#: What ``celery_broker`` may name besides a broker URL.
BROKER_KINDS = ("memory", "embedded", "redis")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "celery_broker(kind): the broker of this test's celery_worker: 'memory' (the "
        "default), 'embedded', 'redis', or a broker URL",
    )


def appfactory_celery(fixture: str) -> ModuleType:
    """``appfactory.celery``, or a failure that says the fixture needs it."""
    try:
        import appfactory.celery as module
    except ImportError as exc:
        pytest.fail(
            f"The {fixture} fixture needs appfactory-celery, which cannot be imported "
            f"({describe_exception(exc)}). Install it (pip install appfactory-celery), "
            "or do not use the Celery fixtures.",
            pytrace=False,
        )
    return module


def _one_of_eager_or_worker(request: pytest.FixtureRequest) -> None:
    if {"celery_app", "celery_worker"} <= set(request.fixturenames):
        pytest.fail(
            "A test cannot use both celery_app (tasks run eagerly, in the test) and "
            "celery_worker (tasks run in a worker); with a worker, use celery_worker.app.",
            pytrace=False,
        )


def configured_celery(fixture: str, app: Flask, settings: t.Mapping[str, t.Any]) -> Celery:
    """The Celery app of ``app`` with ``settings`` over its own, and its tasks loaded.

    The settings are applied before the packages' tasks are loaded, since a
    task reads some of them (``task_store_eager_result``, ``task_acks_late``,
    ...) when it joins the app; tasks that joined earlier get them too.
    """
    factory = appfactory_celery(fixture)
    celery = factory.celeryfactory(app, load_tasks=False)
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
    factory.load_tasks(app)
    return celery


def broker_settings(app: Flask, broker: str, request: pytest.FixtureRequest) -> dict[str, t.Any]:
    """Celery settings of a worker on ``broker``: a kind of :data:`BROKER_KINDS` or a URL."""
    from appfactory.celery import broker as brokers

    if broker == "memory":
        return {
            "broker_url": "memory://",
            "broker_transport_options": {"polling_interval": MEMORY_POLLING_INTERVAL},
            "result_backend": MEMORY_RESULT_BACKEND,
        }
    if broker == "embedded":
        settings = brokers.embedded_settings(app)
        url = settings["broker_url"]
        backend = brokers.following_result_backend(app, brokers.broker_scheme(url, "embedded"), url)
        return {**settings, "result_backend": backend}
    if broker == "redis":
        url = f"{request.getfixturevalue('redis_server').url}/{REDIS_DB}"
        # The worker's last wait for a message (BRPOP) ends within this, when it stops.
        options = {"polling_interval": REDIS_POLLING_INTERVAL}
        return {"broker_url": url, "broker_transport_options": options, "result_backend": url}
    if "://" in broker:
        transport = brokers.broker_scheme(broker, "celery_broker")
        backend = brokers.following_result_backend(app, transport, broker)
        redis = transport in ("redis", "rediss")
        options = {"polling_interval": REDIS_POLLING_INTERVAL} if redis else {}
        return {
            "broker_url": broker,
            "broker_transport_options": options,
            "result_backend": backend or MEMORY_RESULT_BACKEND,
        }
    pytest.fail(
        f"celery_broker is {broker!r}; give one of {', '.join(map(repr, BROKER_KINDS))} "
        "or a broker URL such as 'redis://127.0.0.1:6379/1'.",
        pytrace=False,
    )


@functools.cache
def _thread_work_controller() -> type:
    from celery.contrib.testing.worker import TestWorkController

    class ThreadWorkController(TestWorkController):  # type: ignore[misc]
        """A test worker whose thread has its Celery app current, never Celery's default."""

        def start(self) -> t.Any:
            self.app.set_current()
            return super().start()

    return ThreadWorkController


@contextlib.contextmanager
def running_worker(celery: Celery, **options: t.Any) -> t.Iterator[WorkController]:
    """Celery's ``start_worker`` in a thread, without its lasting effects on the process.

    Celery's default and current apps, the "join will block" flag, the
    ``CELERY_LOG_*`` variables and the capture of warnings by logging are put
    back as they were, both once the worker runs and after it stops; the
    test's logging is left alone.
    """
    from celery import _state
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state as worker_state

    default_before = _state.default_app
    current_before = getattr(_state._tls, "current_app", None)
    join_before = _state.task_join_will_block()
    variables = {name: os.environ.get(name) for name in ("CELERY_LOG_LEVEL", "CELERY_LOG_FILE")}
    capturing = getattr(logging, "_warnings_showwarning", None) is not None

    def restore() -> None:
        _state.set_default_app(default_before)
        _state._set_current_app(current_before)
        _state._set_task_join_will_block(join_before)
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if not capturing:
            logging.captureWarnings(False)

    celery.log.already_setup = True
    options.setdefault("hostname", f"appfactory-test-{uuid.uuid4().hex[:12]}@localhost")
    try:
        with start_worker(
            celery,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            WorkController=_thread_work_controller(),
            **options,
        ) as worker:
            restore()
            try:
                yield worker
            finally:
                # The worker checks whether to stop between two waits for a
                # message (2 s each); two pings end both waits at once.
                worker_state.should_terminate = 0
                with contextlib.suppress(Exception):
                    for _ in range(2):
                        celery.control.broadcast("ping", destination=[worker.hostname], reply=False)
    finally:
        restore()


def _purge(celery: Celery) -> None:
    # Messages a test left in its own queue would otherwise stay in the broker.
    with contextlib.suppress(Exception):
        celery.control.purge()


@pytest.fixture
def celery_config() -> dict[str, t.Any]:
    """Celery settings, under Celery's own names, over those of ``celery_app`` and
    ``celery_worker``. Override it; the default is empty.
    """
    return {}


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


@pytest.fixture
def celery_app(
    request: pytest.FixtureRequest, app: Flask, celery_config: dict[str, t.Any]
) -> Celery:
    """The Celery app of :func:`app`, running tasks eagerly.

    Tasks run in the test when they are sent, their results are stored (in
    memory) and their exceptions raised; ``celery_app.flask_app is app``.
    """
    _one_of_eager_or_worker(request)
    return configured_celery("celery_app", app, {**EAGER_SETTINGS, **celery_config})


@pytest.fixture
def celery_worker(
    request: pytest.FixtureRequest,
    app: Flask,
    celery_config: dict[str, t.Any],
    celery_broker: str,
) -> t.Iterator[WorkController]:
    """A real Celery worker of :func:`app`, in a thread, for the test.

    Tasks sent in the app's context go through the broker named by
    :func:`celery_broker` (in memory by default) to the worker, which runs
    them in the app's context. The worker consumes from a queue of this test
    only. ``celery_worker.app`` is the Celery app.
    """
    _one_of_eager_or_worker(request)
    appfactory_celery("celery_worker")
    settings = {
        "task_always_eager": False,
        "task_default_queue": f"appfactory-test-{uuid.uuid4().hex[:12]}",
        "worker_hijack_root_logger": False,
        "worker_log_color": False,
        **broker_settings(app, celery_broker, request),
        **celery_config,
    }
    celery = configured_celery("celery_worker", app, settings)
    with running_worker(celery) as worker:
        yield worker
        _purge(celery)
