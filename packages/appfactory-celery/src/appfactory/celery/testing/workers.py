"""A Celery worker in a thread, and the brokers the worker fixtures can use."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import typing as t
import uuid

import pytest
from flask import Flask

from celery import Celery, _state
from celery.result import allow_join_result

from .. import broker as brokers

if t.TYPE_CHECKING:
    from celery.worker import WorkController

#: Seconds between two looks of the worker at the in-memory broker.
MEMORY_POLLING_INTERVAL = 0.01

#: The worker's result backend: Celery's ``cache+memory://``, polled often
#: (see :class:`~appfactory.celery.testing.results.MemoryResultBackend`).
MEMORY_RESULT_BACKEND = "appfactory.celery.testing.results:MemoryResultBackend+memory://"

#: The Redis database of ``celery_broker = "redis"`` (out of the way of database 0).
REDIS_DB = 15

#: Seconds of the worker's waits for a message on Redis (kombu's default is 1).
REDIS_POLLING_INTERVAL = 0.1

#: What ``celery_broker`` may name besides a broker URL.
BROKER_KINDS = ("memory", "embedded", "redis")


def broker_settings(
    app: Flask, broker: str, request: pytest.FixtureRequest, fixture: str = "celery_broker"
) -> dict[str, t.Any]:
    """Celery settings of a worker on ``broker``: a kind of :data:`BROKER_KINDS` or a URL."""
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
        transport = brokers.broker_scheme(broker, fixture)
        backend = brokers.following_result_backend(app, transport, broker)
        redis = transport in ("redis", "rediss")
        options = {"polling_interval": REDIS_POLLING_INTERVAL} if redis else {}
        return {
            "broker_url": broker,
            "broker_transport_options": options,
            "result_backend": backend or MEMORY_RESULT_BACKEND,
        }
    pytest.fail(
        f"{fixture} is {broker!r}; give one of {', '.join(map(repr, BROKER_KINDS))} "
        "or a broker URL such as 'redis://127.0.0.1:6379/1'.",
        pytrace=False,
    )


def worker_settings(
    app: Flask, broker: str, request: pytest.FixtureRequest, fixture: str
) -> dict[str, t.Any]:
    """The settings of a worker's Celery app: on ``broker``, a queue of its own, quiet."""
    return {
        "task_always_eager": False,
        "task_default_queue": f"appfactory-test-{uuid.uuid4().hex[:12]}",
        "worker_hijack_root_logger": False,
        "worker_log_color": False,
        **broker_settings(app, broker, request, fixture),
    }


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
def _worker_thread(celery: Celery, **options: t.Any) -> t.Iterator[WorkController]:
    """What Celery's ``start_worker`` does, but stopped by a flag of this worker only.

    Celery stops its test workers with ``celery.worker.state.should_terminate``,
    a flag of the whole process that every worker reads: stopping a test's
    worker would stop a session's worker too. This one closes its own
    consumer's loop instead.
    """
    from celery.bootsteps import CLOSE
    from celery.contrib.testing import worker as testing

    # Celery's ping task, a shared task: imported, it joins every app.
    from celery.contrib.testing.tasks import ping

    loglevel = options.pop("loglevel", testing.WORKER_LOGLEVEL)
    logfile = options.pop("logfile", None)
    perform_ping_check = options.pop("perform_ping_check")
    ping_task_timeout = options.pop("ping_task_timeout", 10.0)
    shutdown_timeout = options.pop("shutdown_timeout", 10.0)
    testing.test_worker_starting.send(sender=celery)
    testing.setup_app_for_worker(celery, loglevel, logfile)
    # The broker answers before the worker starts (Celery's check).
    with celery.connection() as connection:
        connection.default_channel.queue_declare  # noqa: B018
    worker = options.pop("WorkController")(
        app=celery,
        loglevel=loglevel,
        logfile=logfile,
        ready_callback=None,
        without_heartbeat=options.pop("without_heartbeat", True),
        without_mingle=True,
        without_gossip=True,
        **options,
    )
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    worker.ensure_started()
    _state._set_task_join_will_block(False)
    try:
        if perform_ping_check:
            with allow_join_result():
                assert ping.delay().get(timeout=ping_task_timeout) == "pong"
        yield worker
    finally:
        if worker.consumer is not None and worker.consumer.blueprint is not None:
            worker.consumer.blueprint.state = CLOSE
        # The consumer's loop looks at its state between two waits for a
        # message (2 s each); two pings end both waits at once.
        with contextlib.suppress(Exception):
            for _ in range(2):
                celery.control.broadcast("ping", destination=[worker.hostname], reply=False)
        thread.join(shutdown_timeout)
        if thread.is_alive():
            raise RuntimeError(
                f"The test worker {worker.hostname} did not stop within {shutdown_timeout} s "
                "(a task still running?); give celery_worker_parameters a larger "
                "shutdown_timeout."
            )
        worker.stop(in_sighandler=False)
        testing.test_worker_stopped.send(sender=celery, worker=worker)


@contextlib.contextmanager
def running_worker(
    celery: Celery, *, enable_logging: bool = False, **options: t.Any
) -> t.Iterator[WorkController]:
    """A Celery worker in a thread, without lasting effects on the process.

    ``options`` are those of Celery's ``start_worker`` (Celery's
    ``celery_worker_parameters``) over these: the solo pool, no ping check.
    Celery's default and current apps, the "join will block" flag, the
    ``CELERY_LOG_*`` variables and the capture of warnings by logging are put
    back as they were, both once the worker runs and after it stops; the
    test's logging is left alone unless ``enable_logging``.
    """
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

    if not enable_logging:
        celery.log.already_setup = True
    parameters: dict[str, t.Any] = {
        "pool": "solo",
        "concurrency": 1,
        "perform_ping_check": False,
        "WorkController": _thread_work_controller(),
        "hostname": f"appfactory-test-{uuid.uuid4().hex[:12]}@localhost",
        **options,
    }
    try:
        with _worker_thread(celery, **parameters) as worker:
            restore()
            yield worker
    finally:
        restore()


def purge(celery: Celery) -> None:
    """Drop the messages left in the worker's queue (they would stay in the broker)."""
    with contextlib.suppress(Exception):
        celery.control.purge()
