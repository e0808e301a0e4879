"""Shared tasks go to the Celery app of the Flask app whose context is active (eager mode)."""

from __future__ import annotations

import threading
import typing as t

import pytest
from celery import Celery, Task, _state, shared_task
from flask import Flask, current_app

from appfactory.celery import celeryfactory
from appfactory.celery.routing import current_celery_app
from appfactory.core import appfactory

JOIN_TIMEOUT = 10.0


@shared_task(name="test_routing.where", bind=True)
def where(self: Task) -> str:
    """Which Flask app ran the task, with which Flask and Celery configuration."""
    value = current_app.config["ROUTING_VALUE"]
    return f"{current_app.name} {value} {self.app.conf.task_default_queue}"


class Pair(t.NamedTuple):
    flask: Flask
    celery: Celery
    expected: str


def make_pair(app_name: str, value: str) -> Pair:
    app = appfactory(
        app_name,
        None,
        EXTENSIONS=["appfactory.celery"],
        CELERY_TASK_ALWAYS_EAGER=True,
        CELERY_TASK_DEFAULT_QUEUE=f"queue-{value}",
        ROUTING_VALUE=value,
    )
    return Pair(app, celeryfactory(app), f"{app_name} {value} queue-{value}")


@pytest.fixture
def a() -> Pair:
    return make_pair("testapp", "a")


@pytest.fixture
def b() -> Pair:
    return make_pair("otherapp", "b")


def current_celery() -> Celery | None:
    """Celery's current app in this thread, without falling back to (and creating) the default."""
    return t.cast("Celery | None", getattr(_state._tls, "current_app", None))


def assert_routed_to(pair: Pair) -> None:
    assert current_celery() is pair.celery
    assert _state.get_current_app() is pair.celery
    assert where.app is pair.celery
    assert where._get_current_object() is pair.celery.tasks["test_routing.where"]
    assert where.delay().get() == pair.expected


@pytest.mark.parametrize("first", ["a", "b"])
def test_shared_task_goes_to_the_active_apps_celery_app(a: Pair, b: Pair, first: str) -> None:
    for pair in (a, b) if first == "a" else (b, a):
        with pair.flask.app_context():
            assert_routed_to(pair)
            # Its broker too: the embedded broker in its own instance folder.
            url = where.app.conf.broker_url
            assert url == f"sqlite-embedded://{pair.flask.instance_path}/celery/store.sqlite3"


def test_alternating_apps_in_one_thread(a: Pair, b: Pair) -> None:
    results = []
    for pair in (a, b, a, b, a):
        with pair.flask.app_context():
            assert current_celery() is pair.celery
            results.append(where.delay().get())

    assert results == [a.expected, b.expected, a.expected, b.expected, a.expected]


def test_request_context_routes_too(a: Pair, b: Pair) -> None:
    with a.flask.test_request_context():
        assert_routed_to(a)
    with b.flask.test_request_context("/somewhere"):
        assert_routed_to(b)


def test_nested_contexts_restore_the_outer_apps_celery_app(a: Pair, b: Pair) -> None:
    before = current_celery()

    with b.flask.app_context():
        assert_routed_to(b)
        with a.flask.app_context():
            assert_routed_to(a)
            with b.flask.app_context():
                assert_routed_to(b)
            assert_routed_to(a)
        assert_routed_to(b)
        with a.flask.app_context(), a.flask.app_context():
            assert_routed_to(a)
        assert_routed_to(b)

    assert current_celery() is before


def test_context_of_an_app_without_celery_keeps_the_routing(a: Pair) -> None:
    plain = appfactory("wapp", None, ROUTING_VALUE="plain")

    with a.flask.app_context():
        with plain.app_context():
            assert current_app.name == "wapp"
            # The task still goes to a's Celery app, and runs in a's context.
            assert_routed_to(a)
        assert_routed_to(a)


def test_contexts_end_with_the_previous_current_app_restored(a: Pair, b: Pair) -> None:
    outer = Celery("outer", set_as_current=False)

    with current_celery_app(outer):
        with a.flask.app_context():
            assert_routed_to(a)
            with b.flask.app_context():
                assert_routed_to(b)
            assert_routed_to(a)
        assert current_celery() is outer
        with b.flask.test_request_context():
            assert_routed_to(b)
        assert current_celery() is outer


def test_context_ending_with_an_error_restores_the_current_app(a: Pair, b: Pair) -> None:
    def fail_in(pair: Pair) -> None:
        with pair.flask.app_context():
            assert_routed_to(pair)
            raise LookupError("failed in a context")

    with b.flask.app_context():
        with pytest.raises(LookupError, match=r"^failed in a context$"):
            fail_in(a)
        assert_routed_to(b)


@pytest.fixture
def join_flag_restored() -> t.Iterator[None]:
    """Restore Celery's process-wide "inside a task" flag after a threaded test.

    An eager ``delay()`` sets the flag for the whole process while the task
    runs, and threads that do it at once can leave it set.
    """
    before = _state.task_join_will_block()
    yield
    _state._set_task_join_will_block(before)


@pytest.mark.usefixtures("join_flag_restored")
def test_threads_with_their_own_apps_at_the_same_time(a: Pair, b: Pair) -> None:
    barrier = threading.Barrier(3, timeout=JOIN_TIMEOUT)
    seen: dict[str, list[t.Any]] = {}
    errors: list[BaseException] = []

    def work(label: str, pair: Pair) -> None:
        try:
            record = seen.setdefault(label, [current_celery()])
            with pair.flask.app_context():
                # Every thread is inside its context before any sends a task.
                barrier.wait()
                for _ in range(20):
                    # Another thread's eager delay() sets Celery's process-wide
                    # "inside a task" flag, which get() would otherwise refuse.
                    record.append(where.delay().get(disable_sync_subtasks=False))
                record.append(current_celery() is pair.celery)
                barrier.wait()
            record.append(current_celery())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [
        threading.Thread(target=work, args=(label, pair), name=f"routing-{label}")
        for label, pair in (("a", a), ("b", b))
    ]
    with b.flask.app_context():
        for thread in threads:
            thread.start()
        try:
            barrier.wait()
            # The main thread's routing is its own while the others send tasks.
            for _ in range(20):
                assert current_celery() is b.celery
                assert where.app is b.celery
                assert where.delay().get(disable_sync_subtasks=False) == b.expected
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        assert current_celery() is b.celery

    assert not [thread.name for thread in threads if thread.is_alive()]
    assert errors == []
    for label, pair in (("a", a), ("b", b)):
        assert seen[label] == [None, *[pair.expected] * 20, True, None]


def test_a_stale_entry_does_not_keep_a_celery_app_current(a: Pair) -> None:
    from appfactory.celery import routing

    before = current_celery()
    with a.flask.app_context():
        assert current_celery() is a.celery
        # An entry whose pop no switch saw (its app's context ended unseen).
        routing._stack().append((Flask("unseen"), a.celery))
    assert current_celery() is before
    assert routing._stack() == []
