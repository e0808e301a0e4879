"""The worker's consumer: Celery's, made to survive a restart of its Redis broker.

It is the default ``worker_consumer`` of every app (``CELERY_WORKER_CONSUMER``
= ``"appfactory.celery.worker:Consumer"``) unless the app sets its own.

Why: when a worker loses its connection to the broker, Celery (5.7) first
*collects* the connection, which drops the transport's link to its
connection settings (``transport.client = None``), then closes it again.
With kombu's Redis transport, a channel that still has unacknowledged
messages (a task under way, or prefetched ones) rebuilds its connection pool
from those settings when it is closed, to put the messages back; and a task
that finishes after the reconnection acknowledges its message through that
same old channel. Both raise ``AttributeError: 'NoneType' object has no
attribute 'hostname'``, which is no connection error, so the worker stops
with "Unrecoverable error" instead of reconnecting (``docs/reliability.rst``
shows it: under load, most workers died at the first restart of Redis).

The fix keeps the transport's settings when the connection is collected.
The old channels can then reach Redis again: an acknowledgement made once
Redis is back succeeds (no duplicate run), and one made while Redis is still
down fails with a connection error, which Celery logs and survives; the
message then comes back after the visibility timeout.

It also fetches through :mod:`appfactory.celery.redis_fetch`: a message
taken off its queue just as Redis went away (before it was recorded as
unacknowledged) stays in :attr:`Consumer.unrecorded` and goes back to its
queue once the consumer has connected again; one still held when the worker
stops is put back then, or named in an error log if Redis is still away.
Other transports are left as Celery has them.

A message of a task the worker does not know goes back to its queue, with
an error log (:mod:`appfactory.celery.unknown_tasks`), instead of being dropped.
"""

from __future__ import annotations

import logging
import typing as t

from celery.worker.consumer import Consumer as CeleryConsumer

from .unknown_tasks import UnknownTasks

if t.TYPE_CHECKING:
    from .redis_fetch import Unrecorded

#: The value of ``worker_consumer`` that selects this consumer.
CONSUMER = "appfactory.celery.worker:Consumer"


logger = logging.getLogger(__name__)


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer, whose Redis channels outlive a lost connection."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: Messages taken off a Redis queue as the connection broke, to put back.
        self.unrecorded: list[Unrecorded] = []
        self.unknown_tasks = UnknownTasks()
        super().__init__(*args, **kwargs)

    def on_unknown_task(self, body: t.Any, message: t.Any, exc: Exception) -> None:  # noqa: ARG002
        # Celery drops the message; put it back for a worker that knows the task.
        self.unknown_tasks.handle(self, message)

    def connection_for_read(self, heartbeat: float | None = None) -> t.Any:
        connection = self.app.connection_for_read(heartbeat=heartbeat)
        if _is_redis(connection):
            # Imported for Redis only: kombu's Redis transport needs the [redis] extra.
            from .redis_fetch import use_keeping_transport

            use_keeping_transport(connection, self.unrecorded)
        connection = self.ensure_connected(connection)
        try:
            self.put_back_unrecorded(connection)
        except BaseException:
            connection.collect()
            raise
        return connection

    def put_back_unrecorded(self, connection: t.Any) -> None:
        """Put back the messages fetched as the connection broke (a connection error
        propagates with the rest kept)."""
        if not self.unrecorded:
            return
        from .redis_fetch import put_back

        for message in put_back(connection, self.unrecorded):
            logger.warning(
                "Put back task %s: it was taken off its queue as the connection to "
                "the broker broke, before it could be recorded as unacknowledged",
                message.task_id,
            )

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        keep_redis_settings(self.connection)
        super().on_connection_error_after_connected(exc)

    def shutdown(self) -> None:
        super().shutdown()
        if self.unrecorded:
            self.put_back_before_exit()

    def put_back_before_exit(self) -> None:
        """A last try for the messages still held; an error log names any lost."""
        connection = self.app.connection_for_read()
        try:
            self.put_back_unrecorded(connection)
        except connection.connection_errors:
            ids = ", ".join(str(message.task_id) for message in self.unrecorded)
            logger.error(
                "Lost %d task message(s) taken off the queue as the connection to the "
                "broker broke; %s is still unreachable, so they could not be put back. "
                "Send these tasks again: %s",
                len(self.unrecorded), connection.as_uri(), ids,
            )  # fmt: skip
        finally:
            connection.collect()


def _is_redis(connection: t.Any) -> bool:
    """Whether ``connection`` goes to Redis (told from its URL; nothing is imported)."""
    transport = connection.transport_cls
    if not isinstance(transport, str):
        return getattr(transport, "driver_type", None) == "redis"
    return transport.partition("+")[0] in ("redis", "rediss", "sentinel")


def keep_redis_settings(connection: t.Any) -> bool:
    """Let a kombu Redis connection's channels keep its settings once it is collected.

    Returns whether ``connection`` is one that needed it (a Redis connection
    of a kombu that closes transports the way this works around).
    """
    transport = getattr(connection, "_transport", None)
    if transport is None or getattr(transport, "driver_type", None) != "redis":
        return False
    if not callable(getattr(connection, "_do_close_transport", None)):
        return False

    def close_transport_keeping_settings() -> None:
        # What kombu does, but ``transport.client`` stays set: the channels
        # still hold the transport and need its settings to reconnect.
        connection._transport = None

    connection._do_close_transport = close_transport_keeping_settings
    return True
