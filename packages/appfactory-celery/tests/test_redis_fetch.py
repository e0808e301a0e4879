"""A message taken off a Redis queue as Redis went away is kept, then put back.

Real Redis throughout. The fault (Redis gone between ``BRPOP`` and the
record of the unacknowledged message) is injected at that one round trip:
the message has really left the queue when the record fails.
"""

from __future__ import annotations

import contextlib
import logging
import types
import typing as t
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis
from servers import Server, free_port
from workers import WORKER_APPS, Worker, start_worker

from appfactory.celery import celeryfactory
from appfactory.celery.redis_fetch import (
    Transport,
    Unrecorded,
    put_back,
    use_keeping_transport,
)
from appfactory.celery.worker import Consumer

pytestmark = pytest.mark.timeout(120)

REDIS_DB = 7


@pytest.fixture
def broker(redis_server: Server) -> t.Iterator[str]:
    """A Redis database URL; the test's keys are deleted afterwards."""
    url = f"{redis_server.url}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    before = set(client.keys())
    yield url
    added = set(client.keys()) - before
    if added:
        client.delete(*added)
    client.close()


@pytest.fixture
def queue() -> Queue:
    name = f"appfactory-fetch-{uuid.uuid4().hex[:8]}"
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def publish(connection: Connection, queue: Queue, task_id: str) -> None:
    connection.Producer().publish(
        {"task": task_id},
        exchange=queue.exchange,
        routing_key=queue.routing_key,
        declare=[queue],
        serializer="json",
        headers={"id": task_id},
    )


@contextlib.contextmanager
def record_fails(connection: Connection, reaches_redis: bool = False) -> t.Iterator[None]:
    """The next record of an unacknowledged message fails as if Redis went away.

    ``reaches_redis``: Redis ran the record, and the connection broke before
    its answer came back.
    """
    qos = connection.default_channel.qos
    acquire = qos.pipe_or_acquire

    @contextlib.contextmanager
    def failing(pipe: t.Any = None, client: t.Any = None) -> t.Iterator[t.Any]:
        with acquire(pipe, client) as real:
            execute = real.execute

            def broken(*args: t.Any, **kwargs: t.Any) -> None:
                if reaches_redis:
                    execute(*args, **kwargs)
                raise redis.exceptions.ConnectionError("Connection closed by server.")

            real.execute = broken
            yield real

    qos.pipe_or_acquire = failing
    try:
        yield
    finally:
        del qos.pipe_or_acquire


def fetch_failing(
    url: str, queue: Queue, task_id: str, reaches_redis: bool = False
) -> list[Unrecorded]:
    """Publish one message, then fetch it while its record fails; returns what was kept."""
    kept: list[Unrecorded] = []
    received: list[t.Any] = []
    with Connection(url) as connection:
        assert use_keeping_transport(connection, kept)
        publish(connection, queue, task_id)
        with (
            connection.Consumer(queue, callbacks=[lambda body, msg: received.append(body)]),
            record_fails(connection, reaches_redis),
            pytest.raises(redis.exceptions.ConnectionError),
        ):
            connection.drain_events(timeout=10)
    assert received == []
    return kept


def receive_one(url: str, queue: Queue) -> t.Any:
    """Consume one message of ``queue`` (acknowledged) and return it."""
    messages: list[t.Any] = []
    with Connection(url) as connection, connection.Consumer(queue, callbacks=[
        lambda body, message: (messages.append(message), message.ack())
    ]):  # fmt: skip
        connection.drain_events(timeout=10)
    return messages[0]


def test_message_whose_record_failed_is_kept(broker: str, queue: Queue) -> None:
    kept = fetch_failing(broker, queue, "task-1")

    assert [message.task_id for message in kept] == ["task-1"]
    client = redis.Redis.from_url(broker)
    # Off the queue and not recorded: without the kept copy, it would be gone.
    assert client.llen(queue.name) == 0
    assert not client.hexists("unacked", kept[0].delivery_tag)


def test_kept_message_is_put_back_and_redelivered(broker: str, queue: Queue) -> None:
    kept = fetch_failing(broker, queue, "task-2")

    with Connection(broker) as connection:
        done = put_back(connection, kept)

    assert [message.task_id for message in done] == ["task-2"]
    assert kept == []
    message = receive_one(broker, queue)
    assert message.headers["id"] == "task-2"
    assert message.payload == {"task": "task-2"}
    assert message.delivery_info["redelivered"] is True
    assert redis.Redis.from_url(broker).llen(queue.name) == 0


def test_record_that_reached_redis_is_not_restored_twice(broker: str, queue: Queue) -> None:
    kept = fetch_failing(broker, queue, "task-3", reaches_redis=True)
    client = redis.Redis.from_url(broker)
    tag = kept[0].delivery_tag
    # Redis made the record: it would come back after the visibility timeout too.
    assert client.hexists("unacked", tag)

    with Connection(broker) as connection:
        put_back(connection, kept)

    assert not client.hexists("unacked", tag)
    assert client.zscore("unacked_index", tag) is None
    assert client.llen(queue.name) == 1


def test_put_back_while_redis_is_away_keeps_them(broker: str, queue: Queue) -> None:
    kept = fetch_failing(broker, queue, "task-4")
    kept.append(Unrecorded("tag-5", dict(kept[0].payload), queue.name, queue.routing_key))
    away = f"redis://127.0.0.1:{free_port()}/0"

    connection = Connection(away, transport_options={"max_retries": 0})
    with connection, pytest.raises(connection.connection_errors):
        put_back(connection, kept)

    assert [message.task_id for message in kept] == ["task-4", "task-4"]
    assert kept[1].delivery_tag == "tag-5"


def test_only_new_plain_redis_connections_get_the_transport() -> None:
    kept: list[Unrecorded] = []
    connection = Connection("redis://127.0.0.1:1/0")
    assert use_keeping_transport(connection, kept)
    assert isinstance(connection.transport, Transport)
    assert connection.transport.unrecorded is kept
    # Its channels are kombu's Redis channels, with the keeping QoS.
    assert issubclass(Transport.Channel, kombu_redis.Channel)

    assert not use_keeping_transport(connection, kept)  # already has one
    assert not use_keeping_transport(Connection("memory://"), kept)
    assert not use_keeping_transport(Connection("sentinel://127.0.0.1:1"), kept)
    created = Connection("redis://127.0.0.1:1/0")
    created.transport  # noqa: B018 - kombu's, created before
    assert not use_keeping_transport(created, kept)


# -- the worker's consumer ------------------------------------------------------------


def consumer_of(url: str) -> Consumer:
    """The worker's consumer of a Celery app on ``url``, not started (its worker
    stands for a solo pool's, without an event loop)."""
    app = Celery("fetch-test", broker=url, set_as_current=False)
    worker = types.SimpleNamespace(use_eventloop=False)
    return Consumer(on_task_request=lambda request: None, app=app, controller=worker)


def test_consumer_puts_kept_messages_back_when_it_connects(
    broker: str, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = consumer_of(broker)
    consumer.unrecorded.extend(fetch_failing(broker, queue, "task-6"))

    with caplog.at_level(logging.WARNING, logger="appfactory.celery.worker"):
        connection = consumer.connection_for_read()
    try:
        assert isinstance(connection.transport, Transport)
        assert connection.transport.unrecorded is consumer.unrecorded
    finally:
        connection.release()

    assert consumer.unrecorded == []
    assert "Put back task task-6" in caplog.text
    assert receive_one(broker, queue).headers["id"] == "task-6"


def test_consumer_names_what_it_could_not_put_back_at_exit(
    broker: str, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    kept = fetch_failing(broker, queue, "task-7")
    consumer = consumer_of(f"redis://:planted-secret@127.0.0.1:{free_port()}/0")
    consumer.app.conf.broker_transport_options = {"max_retries": 0}
    consumer.unrecorded.extend(kept)

    with caplog.at_level(logging.ERROR, logger="appfactory.celery.worker"):
        consumer.put_back_before_exit()

    assert "Lost 1 task message(s)" in caplog.text
    assert "Send these tasks again: task-7" in caplog.text
    assert "planted-secret" not in caplog.text
    assert "redis://:**@127.0.0.1" in caplog.text


def test_worker_runs_a_task_whose_record_failed_once(
    broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real worker: the record fails, the consumer reconnects, puts it back, runs it once."""
    monkeypatch.syspath_prepend(str(WORKER_APPS))
    from wapp.app import create_app

    task_id = uuid.uuid4().hex
    settings = {
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": f"appfactory-fetch-{uuid.uuid4().hex[:8]}",
    }
    env = {f"WAPP_{key}": value for key, value in settings.items()}
    worker: Worker = start_worker(
        "wfault.celery", {**env, "WFAULT_TASK_ID": task_id}, tmp_path / "worker.log"
    )
    try:
        app = create_app(**settings)
        celery = celeryfactory(app)
        where = celery.tasks["wtasks.tasks.where"]
        with app.app_context():
            before = where.apply_async()
            faulty = where.apply_async(task_id=task_id)
            after = where.apply_async()
            assert [r.get(timeout=30) for r in (before, faulty, after)] == [worker.name] * 3
        output = worker.output()
    finally:
        worker.stop()

    assert "Connection to broker lost" in output
    assert f"Put back task {task_id}" in output
    assert output.count(f"Task wtasks.tasks.where[{task_id}] succeeded") == 1
