"""The embedded broker: a kombu transport on the SQLite store of :mod:`appfactory.celery.store`.

URL: ``sqlite-embedded:///<absolute path of the store file>``; importing
:mod:`appfactory.celery` registers the scheme with kombu. A fetched message
is leased (the row stays, marked with its lease and the process holding it)
and is deleted when acknowledged. A message comes back to its queue when
the worker rejects it, closes its channel, or is gone: each worker takes
back, when it starts and every ``reclaim_interval`` seconds, the leases
whose time (``visibility_timeout``) ran out or whose process on this machine
no longer runs, and extends its own. A row that is not a kombu message is
set aside (table ``set_aside``) with an error log, and the worker goes on.

Transport options: ``polling_interval`` (seconds between looks at an empty
queue, default 0.005), ``visibility_timeout`` (default 3600) and
``reclaim_interval`` (default 5).
"""

from __future__ import annotations

import json
import logging
import os
import time
import typing as t
from queue import Empty

from kombu.transport import virtual

from .store import Store, StoreError, owner, path_from_url

logger = logging.getLogger(__name__)

#: Defaults of the transport options.
POLLING_INTERVAL = 0.005
VISIBILITY_TIMEOUT = 3600.0
RECLAIM_INTERVAL = 5.0

#: Leases this process could not give back when its channel closed (the store
#: could not be written, as on a full disk): given back at the next chance, so
#: that their messages do not wait for the lease to run out.
_unreleased: set[tuple[int, str]] = set()


def _tag(message_id: int, lease: str) -> str:
    return f"{message_id}.{lease}"


def _untag(delivery_tag: t.Any) -> tuple[int, str] | None:
    message_id, _, lease = str(delivery_tag).partition(".")
    return (int(message_id), lease) if message_id.isdigit() and lease else None


def check_payload(payload: t.Any) -> str | None:
    """Why ``payload`` is not a message of kombu's, or ``None`` if it is one."""
    if not isinstance(payload, dict):
        return f"a JSON {type(payload).__name__}, not an object"
    properties = payload.get("properties")
    if not isinstance(properties, dict) or not isinstance(
        properties.get("delivery_info", {}), dict
    ):
        return "no 'properties' object"
    if not isinstance(payload.get("headers", {}), dict):
        return "'headers' is not an object"
    if "body" not in payload:
        return "no 'body'"
    return None


class QoS(virtual.QoS):
    """Acknowledging deletes the message's row; rejecting with requeue releases its lease."""

    def ack(self, delivery_tag: str) -> None:
        found = _untag(delivery_tag)
        if found is not None:
            self.channel.store.ack(*found)
        super().ack(delivery_tag)  # type: ignore[no-untyped-call]

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        found = _untag(delivery_tag)
        if found is not None:
            if requeue:
                self.channel.store.release(*found)
            else:
                self.channel.store.ack(*found)
        self._quick_ack(delivery_tag)


class Channel(virtual.Channel):
    """A channel on the store; each channel has its own SQLite connection."""

    QoS = QoS
    supports_fanout = False
    do_restore = True

    def __init__(self, connection: t.Any, **kwargs: t.Any) -> None:
        super().__init__(connection, **kwargs)  # type: ignore[no-untyped-call]
        options = connection.client.transport_options
        self.path = connection.store_path
        self.visibility_timeout = float(options.get("visibility_timeout", VISIBILITY_TIMEOUT))
        self.reclaim_interval = float(options.get("reclaim_interval", RECLAIM_INTERVAL))
        self._owner: tuple[str, int, int] | None = None
        self.store = Store(self.path)
        self.next_reclaim = 0.0
        self._consumer_pid = 0

    @property
    def owner(self) -> tuple[str, int, int]:
        if self._owner is None or self._owner[1] != os.getpid():
            self._owner = owner()
        return self._owner

    def _open_again_if_replaced(self) -> None:
        if self.store.replaced():
            logger.error(
                "The embedded broker's store %r was deleted or replaced while in use: the "
                "messages it held are gone. Using a new store at that path.",
                self.path,
            )
            self.store.close()
            self.store = Store(self.path)

    def _put(self, queue: str, message: dict[str, t.Any], **kwargs: t.Any) -> None:  # noqa: ARG002
        self._open_again_if_replaced()
        self.store.put(queue, json.dumps(message))

    def _maintain(self) -> None:
        """Take back the leases of gone workers and expired ones; extend this process's."""
        now = time.monotonic()
        if now < self.next_reclaim:
            return
        self.next_reclaim = now + self.reclaim_interval
        self._open_again_if_replaced()
        if self._consumer_pid != os.getpid():
            # Only consumers (workers) drain: a sender waiting for a result learns
            # from this record whether any worker listens (appfactory.celery.waiting).
            self.store.add_consumer(self.owner)
            self._consumer_pid = os.getpid()
        held = [found for tag in list(self.qos._delivered) if (found := _untag(tag))]
        self.store.renew(held, self.visibility_timeout)
        self.store.checkpoint()
        self._release_unreleased()
        count = self.store.reclaim()
        if count:
            logger.warning(
                "Took back %d task message(s) of the embedded broker held by a worker that "
                "is gone (or whose lease ran out): they are delivered again.",
                count,
            )

    def _release_unreleased(self) -> int:
        """Give back the leases a closed channel of this process could not."""
        count = 0
        for found in list(_unreleased):
            self.store.release(*found)
            _unreleased.discard(found)
            count += 1
        if count:
            logger.warning(
                "Gave back %d task message(s) to the embedded broker's queue that a lost "
                "connection of this worker could not: they are delivered again.",
                count,
            )
        return count

    def drain_events(self, timeout: float | None = None, callback: t.Any = None) -> t.Any:
        # Also when the worker takes no more messages (all its pool busy): it
        # still extends its leases and takes back those of gone workers.
        self._maintain()
        return super().drain_events(timeout=timeout, callback=callback)  # type: ignore[no-untyped-call]

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, t.Any]:  # noqa: ARG002
        self._maintain()
        # A read first: an idle worker's polls take no write lock.
        if not self.store.has_ready([queue]):
            raise Empty()
        while True:
            found = self.store.lease(queue, self.visibility_timeout, self.owner)
            if found is None:
                raise Empty()
            message_id, lease, text, deliveries = found
            try:
                payload = json.loads(text)
                problem = check_payload(payload)
            except ValueError as exc:
                payload, problem = None, f"not JSON ({exc})"
            if problem is None:
                break
            self.store.set_aside(message_id, problem)
            logger.error(
                "Set aside message %d of queue %r in the embedded broker's store %r: it is %s. "
                "It stays in the table 'set_aside' of that file; the worker goes on.",
                message_id, queue, self.path, problem,
            )  # fmt: skip
        properties = payload["properties"]
        properties["delivery_tag"] = _tag(message_id, lease)
        if deliveries > 1:
            properties.setdefault("delivery_info", {})["redelivered"] = True
            payload["redelivered"] = True
        return t.cast(dict[str, t.Any], payload)

    def _restore(self, message: t.Any) -> None:
        found = _untag(message.delivery_tag)
        if found is not None:
            try:
                self.store.release(*found)
            except StoreError:
                _unreleased.add(found)
                raise

    def _size(self, queue: str) -> int:
        return self.store.size(queue)

    def queue_declare(
        self, queue: str | None = None, passive: bool = False, **kwargs: t.Any
    ) -> t.Any:
        # kombu's answer, with the consumers that listen on the store counted.
        declared = super().queue_declare(queue, passive, **kwargs)  # type: ignore[no-untyped-call]
        return declared._replace(consumer_count=self.store.consumers())

    def _purge(self, queue: str) -> int:
        return self.store.purge(queue)

    def _delete(self, queue: str, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ARG002
        self._purge(queue)

    def _new_queue(self, queue: str, **kwargs: t.Any) -> None:
        pass

    def _has_queue(self, queue: str, **kwargs: t.Any) -> bool:  # noqa: ARG002
        return True

    def close(self) -> None:
        super().close()  # type: ignore[no-untyped-call]
        self.store.close()


class Transport(virtual.Transport):
    """kombu's virtual transport on the embedded store."""

    Channel = Channel
    polling_interval = POLLING_INTERVAL
    driver_type = "sqlite"
    driver_name = "sqlite3"
    connection_errors: t.Any = (*virtual.Transport.connection_errors, StoreError)
    channel_errors: t.Any = (*virtual.Transport.channel_errors, StoreError)
    implements = virtual.Transport.implements.extend(asynchronous=False, heartbeats=False)

    #: Its ``queue_declare`` counts the workers that listen (RabbitMQ's does too).
    counts_consumers = True

    #: kombu hands the whole URL over as the host name.
    can_parse_url = True

    def __init__(self, client: t.Any, **kwargs: t.Any) -> None:
        super().__init__(client, **kwargs)  # type: ignore[no-untyped-call]
        self.store_path = path_from_url(str(client.hostname or ""))

    def as_uri(self, uri: str, include_password: bool = False, mask: str = "**") -> str:  # noqa: ARG002
        return uri

    @property
    def default_connection_params(self) -> dict[str, t.Any]:
        # No host: the store is a file (kombu would warn of a missing host name).
        return {"port": None, "hostname": None}

    def driver_version(self) -> str:
        import sqlite3

        return sqlite3.sqlite_version
