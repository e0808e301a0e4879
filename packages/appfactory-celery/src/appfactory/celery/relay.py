"""Relaying the outbox from the worker: a bootstep that runs relay passes in a thread.

Every worker of an app with ``TASKS_OUTBOX`` on relays, every
``TASKS_OUTBOX_RELAY_INTERVAL`` seconds (0: never, leaving it to ``myapp
outbox relay``). On PostgreSQL one pass runs at a time across all workers.
A pass that finds the broker away is followed by the next one after twice
the pause, up to :data:`MAX_PAUSE`. The thread has an engine of its own
(same URL as the app's), so the pool processes forked by the worker never
share its connections. SQLAlchemy is imported only when the step starts.
"""

from __future__ import annotations

import logging
import threading
import typing as t
import weakref

from flask import Flask

from appfactory.core import describe_exception, mask_url
from celery import Celery, bootsteps
from celery.signals import worker_process_init

from .sessions import outbox_enabled, relay_interval

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .outbox import RelayPass

logger = logging.getLogger(__name__)

#: The longest pause (seconds) between two passes while the broker is away.
MAX_PAUSE = 30.0
#: Seconds a stopping worker waits for the pass under way.
STOP_TIMEOUT = 15.0

#: The relay engines of this process, disposed of in forked pool processes.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


class Relayer:
    """Runs relay passes in a thread until stopped."""

    def __init__(self, flask_app: Flask, celery: Celery, interval: float) -> None:
        from sqlalchemy import create_engine

        from .outbox import database_engine

        self.celery = celery
        self.interval = interval
        url = database_engine(flask_app).url
        self.engine = create_engine(url, pool_pre_ping=True)
        _engines.add(self.engine)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
        self.engine.dispose()

    def run(self) -> None:
        """Pass after pass: at once while full batches go, after a pause otherwise."""
        failures = 0
        pause = 0.0
        while not self._stop.wait(pause):
            done = self.relay_pass()
            if done is None or done.error is not None:
                failures += 1
                pause = min(self.interval * 2**failures, MAX_PAUSE)
            else:
                failures = 0
                pause = 0.0 if done.full else self.interval

    def relay_pass(self) -> RelayPass | None:
        """One pass; ``None`` when the database failed (logged)."""
        from .outbox import relay_once

        try:
            return relay_once(self.celery, self.engine)
        except Exception as exc:
            logger.warning(
                "Outbox: relay pass failed on the database %s (%s); the messages stay "
                "in the outbox and the next pass tries again",
                mask_url(str(self.engine.url)),
                mask_url(describe_exception(exc)),
            )
            return None


class OutboxRelay(bootsteps.StartStopStep):  # type: ignore[misc]
    """The worker's outbox relay (a step of the worker's blueprint)."""

    label = "Outbox relay"
    # After the pool, so that its first processes are forked before any connection.
    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: t.Any, **kwargs: t.Any) -> None:
        super().__init__(parent, **kwargs)
        self.relayer: Relayer | None = None

    def start(self, parent: t.Any) -> None:
        flask_app = getattr(parent.app, "flask_app", None)
        if not isinstance(flask_app, Flask) or not outbox_enabled(flask_app):
            return
        interval = relay_interval(flask_app)
        if interval <= 0:
            logger.info("Outbox: this worker does not relay (TASKS_OUTBOX_RELAY_INTERVAL=0)")
            return
        _listen_for_forks()
        self.relayer = Relayer(flask_app, parent.app, interval)
        self.relayer.start()
        logger.info(
            "Outbox: relaying from %s every %s s", mask_url(str(self.relayer.engine.url)), interval
        )

    def stop(self, parent: t.Any) -> None:  # noqa: ARG002 (Celery's signature)
        if self.relayer is not None:
            self.relayer.stop()
            self.relayer = None

    terminate = stop


def _dispose_in_child(**_: t.Any) -> None:
    # A forked pool process inherits the relay's pooled connections; closing
    # them here would close the parent's, so they are only forgotten.
    for engine in list(_engines):
        engine.dispose(close=False)


_listening: list[bool] = []


def _listen_for_forks() -> None:
    if not _listening:
        worker_process_init.connect(_dispose_in_child, weak=False)
        _listening.append(True)
