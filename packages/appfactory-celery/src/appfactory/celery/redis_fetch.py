"""kombu's Redis transport, made to keep the messages it fetched as Redis went away.

A worker on Redis takes a message off its queue (``BRPOP``), then records it
as unacknowledged (the ``unacked`` hash and the ``unacked_index`` sorted
set), from where it comes back if the worker never acknowledges it. These
are two round trips. When Redis stops between them, the message has left the
queue but was never recorded: only the worker's memory holds it, and kombu
(5.7) drops it with the connection error. The task is lost although its send
succeeded (``docs/reliability.rst``: the Redis-restart test lost one now and
then, and the Redis append-only file showed the message popped and never
recorded).

The :class:`Transport` here keeps each such message in its
:attr:`~Transport.unrecorded` list; the worker's consumer
(:mod:`appfactory.celery.worker`) shares one list across its connections and
calls :func:`put_back` once it has connected again. The message goes back to
the consuming end of its queue, marked as redelivered, in one transaction
that also drops any record the failed round trip made after all, so that it
is not restored twice.

Out of reach: a message whose ``BRPOP`` reply Redis never sent (Redis killed
after it wrote the pop to its append-only file and before it answered) is
seen by no client. Should it happen, the Redis-restart reliability test fails
and names the task, with what the append-only file says of it.
"""

from __future__ import annotations

import copy
import typing as t
from dataclasses import dataclass

from kombu.transport import redis as kombu_redis


@dataclass(frozen=True)
class Unrecorded:
    """A message taken off its queue that could not be recorded as unacknowledged."""

    delivery_tag: str
    payload: dict[str, t.Any]
    exchange: str
    routing_key: str

    @property
    def task_id(self) -> str | None:
        """The id of the task it carries (Celery's message protocol 2), if any."""
        headers = self.payload.get("headers") or {}
        task_id = headers.get("id")
        return str(task_id) if task_id is not None else None


class QoS(kombu_redis.QoS):
    """kombu's unacknowledged-message records, keeping a message that failed to record."""

    def append(self, message: t.Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
        except self.channel.connection_errors:
            delivery = message.delivery_info
            self.channel.connection.unrecorded.append(
                Unrecorded(
                    delivery_tag=delivery_tag,
                    payload=copy.deepcopy(message._raw),
                    exchange=delivery["exchange"],
                    routing_key=delivery["routing_key"],
                )
            )
            raise


class Channel(kombu_redis.Channel):
    """kombu's Redis channel with :class:`QoS`."""

    QoS = QoS


class Transport(kombu_redis.Transport):
    """kombu's Redis transport whose channels keep the messages they could not record."""

    Channel = Channel

    def __init__(self, client: t.Any, **kwargs: t.Any) -> None:
        super().__init__(client, **kwargs)  # type: ignore[no-untyped-call]
        #: Messages taken off a queue and not recorded, oldest first.
        self.unrecorded: list[Unrecorded] = []


def use_keeping_transport(connection: t.Any, unrecorded: list[Unrecorded]) -> bool:
    """Give a new kombu ``redis://`` connection a :class:`Transport` sharing ``unrecorded``.

    Returns whether it did: only a plain Redis connection (not Sentinel, not
    another broker) whose transport was not created yet gets one.
    """
    if connection._transport is not None:
        return False
    if connection.get_transport_cls() is not kombu_redis.Transport:
        return False
    transport = Transport(client=connection)
    transport.unrecorded = unrecorded
    connection._transport = transport
    return True


def put_back(connection: t.Any, unrecorded: list[Unrecorded]) -> list[Unrecorded]:
    """Put the ``unrecorded`` messages back in their queues through ``connection``.

    Each one leaves the list once Redis has taken it; a connection error
    propagates with the rest still in the list. Returns those put back.
    """
    done: list[Unrecorded] = []
    if not unrecorded:
        return done
    # A channel of its own: its errors are Redis's connection errors, which the
    # consumer recovers from (the default channel's are kombu's own).
    channel = connection.channel()
    try:
        while unrecorded:
            message = unrecorded[0]
            with channel.conn_or_acquire() as client, client.pipeline() as pipe:
                channel.qos._remove_from_indices(message.delivery_tag, pipe)
                channel._do_restore_message(
                    copy.deepcopy(message.payload), message.exchange, message.routing_key, pipe
                )
                pipe.execute()
            done.append(unrecorded.pop(0))
    finally:
        channel.close()
    return done
