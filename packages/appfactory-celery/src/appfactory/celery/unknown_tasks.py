"""A task message that this worker cannot run goes back to its queue, loudly.

Celery's worker drops a message whose task name it does not know: it logs
"Received unregistered task" with a traceback and rejects the message. With
several hosts, one host started with other ``PACKAGES`` than the rest would
silently lose every task of the package it lacks. appfactory's consumer puts
such a message back in its queue after a short pause, so that a worker that
knows the task runs it, and logs one error naming the task, this worker's
packages and the fix (once a minute per task name, not once per message).
"""

from __future__ import annotations

import logging
import math
import time
import typing as t

logger = logging.getLogger(__name__)

#: Seconds a message of an unknown task waits before it goes back to its queue
#: (so that a worker that does not know it does not spin on it).
REQUEUE_DELAY = 1.0
#: Seconds between two error lines about the same unknown task name.
REPORT_EVERY = 60.0


class UnknownTasks:
    """What a consumer does with the messages of tasks it does not know."""

    def __init__(self) -> None:
        self._reported: dict[str, float] = {}

    def handle(self, consumer: t.Any, message: t.Any) -> None:
        """Report the unknown task (rate limited) and requeue its message later."""
        headers = message.headers or {}
        name = str(headers.get("task") or (message.payload or {}).get("task", "?"))
        now = time.monotonic()
        if now - self._reported.get(name, -math.inf) >= REPORT_EVERY:
            self._reported[name] = now
            logger.error(
                "Task %r is not registered in this worker (its packages: %s), so its "
                "messages go back to the queue for a worker that knows it. Start every "
                "host with the same app settings: add the package that defines %r to "
                "PACKAGES here, or stop this worker.",
                name, ", ".join(_packages(consumer)) or "none", name,
            )  # fmt: skip
        consumer.timer.call_after(REQUEUE_DELAY, _requeue, (message, consumer.connection_errors))


def _requeue(message: t.Any, connection_errors: tuple[type[BaseException], ...]) -> None:
    """Put ``message`` back in its queue (a lost connection brings it back anyway)."""
    if message.acknowledged:
        return
    try:
        message.reject(requeue=True)
    except connection_errors as exc:
        logger.warning(
            "Could not put back task message %s (%s); the broker returns it once "
            "the connection is restored or its visibility timeout passes",
            (message.headers or {}).get("id"), exc,
        )  # fmt: skip


def _packages(consumer: t.Any) -> list[str]:
    """The ``PACKAGES`` of the worker's Flask app, if it has one."""
    flask_app = getattr(consumer.app, "flask_app", None)
    if flask_app is None:
        return []
    return [str(name) for name in flask_app.config.get("PACKAGES", [])]
