"""Where a shell's tasks go, and a wait for a result that says why it came to nothing.

``myapp shell`` names the broker and the result backend (a line of the
banner), and ``get()`` on a result that times out asks the broker whether
any worker listens on it: when none answers, :class:`NoWorkerError` names
the broker and the command that starts a worker. The usual cause is a
worker started with other settings (a ``MYAPP_CELERY_BROKER_URL`` exported
in one terminal only, another instance folder).
"""

from __future__ import annotations

import os
import typing as t
from functools import cached_property

from flask import Flask

from celery import Celery
from celery.exceptions import TimeoutError
from celery.result import AsyncResult

from .broker import describe_broker
from .errors import NoWorkerError

#: Seconds a timed-out ``get()`` waits for a worker to answer a ping.
PING_TIMEOUT = 1.0


def embedded_folder(flask_app: Flask, celery: Celery) -> str | None:
    """The folder of the embedded broker under the instance folder, when ``celery``
    uses it (its store or queue lies there), else ``None``."""
    conf = celery.conf
    root = os.path.join(flask_app.instance_path, "celery")
    url = conf.broker_url if isinstance(conf.broker_url, str) else ""
    options = conf.broker_transport_options or {}
    if url.startswith("filesystem:"):
        where = str(options.get("data_folder_in") or "")
    else:
        # The embedded store named by its URL (scheme://<path>).
        where = url.partition("://")[2].split("?")[0]
    return root if where.startswith(root + os.sep) else None


def broker_place(flask_app: Flask, celery: Celery) -> str:
    """Where ``celery`` sends tasks: the embedded broker and its folder, or the
    broker's URL with its password masked."""
    folder = embedded_folder(flask_app, celery)
    if folder is not None:
        return f"the embedded broker in {folder}"
    return describe_broker(celery.conf.broker_url)


def results_place(celery: Celery) -> str:
    """Where ``celery`` keeps results (a password masked)."""
    backend = celery.conf.result_backend
    if backend in (None, "", "disabled"):
        return "no result backend (results cannot be waited for)"
    if backend == celery.conf.broker_url:
        return "results with the tasks"
    if isinstance(backend, str) and backend.startswith("file://"):
        return f"results in {backend.removeprefix('file://')}"
    return f"results in {describe_broker(backend)}"


def where_tasks_go(flask_app: Flask, celery: Celery) -> str:
    """The shell's banner line: the broker and the result backend of ``celery``."""
    return f"Celery: tasks go to {broker_place(flask_app, celery)}; {results_place(celery)}."


def worker_command(celery: Celery) -> str:
    """The command that starts a worker of the app (by the tutorial's convention)."""
    return f"celery -A {celery.main}.celery worker"


def no_worker_listens(celery: Celery) -> bool:
    """Whether no worker listens on the broker of ``celery``: messages wait in its
    default queue, no consumer is known (RabbitMQ counts them) and no worker answers
    a ping within :data:`PING_TIMEOUT` (the embedded broker records its workers, so
    no ping is needed). When this cannot be told (a broker without broadcast, a
    queue of another name), the answer is no."""
    try:
        with celery.connection_for_write() as connection:
            transport = connection.transport
            queue = celery.conf.task_default_queue
            _, waiting, consumers = connection.default_channel.queue_declare(
                queue=queue, passive=True
            )
        # An empty queue: a worker took the message (a busy worker may not answer a ping).
        if consumers or not waiting:
            return False
        if getattr(transport, "counts_consumers", False):
            # The embedded store knows its workers: none is recorded as running.
            return True
        # Workers answer a ping through a broadcast: without one, no answer proves nothing.
        if "fanout" not in transport.implements.exchange_type:
            return False
        return not celery.control.ping(timeout=PING_TIMEOUT)
    except Exception:  # the original timeout is the error to show then
        return False


class WaitingResult(AsyncResult):  # type: ignore[misc]
    """Celery's result, whose ``get()`` says when no worker listens on the broker."""

    def get(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return super().get(*args, **kwargs)
        except TimeoutError as exc:
            if not no_worker_listens(self.app):
                raise
            raise NoWorkerError(
                f"No result for task {self.id}: no worker listens on "
                f"{broker_place(self.app.flask_app, self.app)}, where it waits until one takes it. "
                f"Start a worker with this app's settings: {worker_command(self.app)}"
            ) from exc

    wait = get


class FlaskCelery(Celery):  # type: ignore[misc]
    """The Celery app of a Flask app: its results are :class:`WaitingResult`."""

    flask_app: Flask

    @cached_property
    def AsyncResult(self) -> type[AsyncResult]:
        return t.cast("type[AsyncResult]", self.subclass_with_self(WaitingResult))
