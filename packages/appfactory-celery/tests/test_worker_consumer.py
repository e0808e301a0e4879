"""The worker's consumer keeps a Redis connection's settings for its channels."""

from __future__ import annotations

import typing as t

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Connection

from appfactory.celery.worker import CONSUMER, Consumer, keep_redis_settings


def test_consumer_is_celerys() -> None:
    assert issubclass(Consumer, CeleryConsumer)
    assert f"{Consumer.__module__}:{Consumer.__qualname__}" == CONSUMER


def test_collected_redis_connection_keeps_its_settings() -> None:
    # No server is needed: the channels of a transport read its client's settings
    # (host, port, password, database) to build their connection pools.
    connection = Connection("redis://127.0.0.1:1/3")
    transport = connection.transport
    assert keep_redis_settings(connection)

    connection.collect()

    assert connection._transport is None
    assert transport.client is connection
    assert (transport.client.hostname, transport.client.port) == ("127.0.0.1", 1)


def test_collected_redis_connection_without_the_fix_loses_them() -> None:
    """What the fix works around: kombu drops the settings the channels need."""
    connection = Connection("redis://127.0.0.1:1/3")
    transport = connection.transport

    connection.collect()

    # When this fails, kombu keeps them itself and appfactory.celery.worker can go.
    assert transport.client is None


def test_other_transports_are_left_alone() -> None:
    connection = Connection("memory://")
    connection.transport  # noqa: B018 - create it
    before: t.Any = connection._do_close_transport
    assert not keep_redis_settings(connection)
    assert connection._do_close_transport == before
    assert not keep_redis_settings(Connection("redis://127.0.0.1:1/0"))  # no transport yet
