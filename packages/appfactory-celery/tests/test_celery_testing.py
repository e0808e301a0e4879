"""The Celery fixtures and guards of ``appfactory.celery.testing``, run with pytester."""

from __future__ import annotations

import importlib
import logging
import os
import typing as t
from pathlib import Path

import pytest
from celery import _state, shared_task

from appfactory.celery.testing import Server
from appfactory.celery.testing.fixtures import EAGER_SETTINGS, configure_celery
from appfactory.celery.testing.workers import running_worker
from appfactory.core import appfactory
from appfactory.core.testing import isolated_environment

MakePackage = t.Callable[[str, dict[str, str]], Path]


@shared_task(name="test_testing.fail")
def fail() -> None:
    raise ValueError("warming up")


@pytest.fixture(scope="module", autouse=True)
def _celery_used_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Use Celery in this process before pytester runs the test projects in it.

    pytester forgets the modules a run imports first; Celery's must stay one
    copy each (it tells results from errors with isinstance), so they are
    imported here, by doing once what the test projects do.
    """
    with isolated_environment("WARMUP", tmp_path_factory.mktemp("warmup")):
        app = appfactory("warmup", None, EXTENSIONS=["appfactory.celery"])
        settings = {**EAGER_SETTINGS, "task_eager_propagates": False}
        celery = configure_celery(app, settings)
        with app.app_context():
            assert fail.delay().state == "FAILURE"
        with running_worker(celery):
            pass
    for name in ("kombu.transport.filesystem", "kombu.transport.redis", "celery.backends.redis"):
        importlib.import_module(name)


#: The test project: an app called tasker whose package taskpkg has tasks.
CONFTEST = """
import pytest

from appfactory.core import appfactory

pytest_plugins = ["appfactory.core.testing", "appfactory.celery.testing"]


def create_tasker(load=True, **config):
    config = {"PACKAGES": ["taskpkg"], "EXTENSIONS": ["appfactory.celery"], **config}
    return appfactory("tasker", None, load=load, **config)


@pytest.fixture(scope="module")
def create_app():
    return create_tasker
"""

TASKS = """
import threading

from celery import shared_task
from flask import current_app


@shared_task
def where():
    return [current_app.name, current_app.config.get("MARK"), threading.get_ident()]


@shared_task
def fail(message):
    raise ValueError(message)
"""


@pytest.fixture
def tasker(pytester: pytest.Pytester, make_package: MakePackage) -> pytest.Pytester:
    """A test project of the tasker app.

    taskpkg is written by this (outer) test's ``make_package``, so that Celery
    forgets its shared tasks when this test ends.
    """
    make_package("taskpkg", {"tasks.py": TASKS})
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


# celery_app: eager, results stored, exceptions raised, bound to the test's app


def test_celery_app_runs_tasks_eagerly_in_the_test(tasker: pytest.Pytester) -> None:
    tasker.makepyfile(
        """
        import threading

        import pytest
        from celery.result import AsyncResult

        from taskpkg.tasks import fail, where


        @pytest.mark.app_config(MARK="eager")
        def test_eager_and_stored(app, celery_app):
            assert celery_app.flask_app is app
            with app.app_context():
                result = where.delay()
            expected = ["tasker", "eager", threading.get_ident()]
            assert result.get() == expected
            stored = AsyncResult(result.id, app=celery_app)
            assert stored.state == "SUCCESS"
            assert stored.get() == expected


        def test_exceptions_are_raised(app, celery_app):
            with app.app_context(), pytest.raises(ValueError, match="boom"):
                fail.delay("boom")
        """
    )
    run(tasker).assert_outcomes(passed=2)


def test_celery_config_goes_over_the_fixtures_settings(tasker: pytest.Pytester) -> None:
    tasker.makepyfile(
        """
        import pytest

        from taskpkg.tasks import fail


        @pytest.fixture
        def celery_config():
            return {"task_eager_propagates": False, "task_default_queue": "mine"}


        def test_it(app, celery_app):
            assert celery_app.conf.task_default_queue == "mine"
            with app.app_context():
                result = fail.delay("kept")
            assert result.state == "FAILURE"
            with pytest.raises(ValueError, match="kept"):
                result.get()
        """
    )
    run(tasker).assert_outcomes(passed=1)


def test_two_tests_never_share_a_celery_app_or_its_routing(tasker: pytest.Pytester) -> None:
    tasker.makepyfile(
        """
        import sys

        import pytest

        from appfactory.celery.testing import CeleryDefaultAppError
        from taskpkg.tasks import where

        first = []


        @pytest.fixture
        def injected(make_package):
            make_package(
                "injectedtasks",
                {"tasks.py": "from celery import shared_task\\n\\n@shared_task\\ndef extra():\\n"
                             "    return 'extra'\\n"},
            )


        @pytest.mark.usefixtures("injected")
        @pytest.mark.app_config(MARK="first", PACKAGES_ENTRY_POINTS_EXTRA={"inj": "injectedtasks"})
        def test_first(app, celery_app):
            first.append(celery_app)
            assert "injectedtasks.tasks.extra" in celery_app.tasks
            with app.app_context():
                assert where.delay().get()[:2] == ["tasker", "first"]


        def test_second(app, celery_app):
            assert celery_app is not first[0]
            assert first[0].flask_app is not app
            assert "injectedtasks.tasks.extra" not in celery_app.tasks
            assert "injectedtasks" not in sys.modules
            with pytest.raises(CeleryDefaultAppError):
                where.delay()
            with app.app_context():
                assert where.app is celery_app
                assert where.delay().get()[:2] == ["tasker", None]
        """
    )
    run(tasker).assert_outcomes(passed=2)


# celery_worker: a real worker in a thread


def test_celery_worker_runs_tasks_in_its_thread_in_the_app(tasker: pytest.Pytester) -> None:
    default_before = _state.default_app
    capturing_before = getattr(logging, "_warnings_showwarning", None) is not None
    tasker.makepyfile(
        """
        import threading

        import pytest

        from appfactory.celery.testing import CeleryDefaultAppError
        from taskpkg.tasks import fail, where


        @pytest.mark.app_config(MARK="worker")
        def test_it(app, celery_worker):
            assert celery_worker.app.flask_app is app
            assert celery_worker.app.conf.broker_url == "memory://"
            with app.app_context():
                result = where.delay()
            name, mark, thread = result.get(timeout=10)
            assert (name, mark) == ("tasker", "worker")
            assert thread != threading.get_ident()
            with pytest.raises(CeleryDefaultAppError):
                where.delay()


        def test_failure(app, celery_worker):
            with app.app_context():
                result = fail.delay("boom")
            with pytest.raises(ValueError, match="boom"):
                result.get(timeout=10)


        def test_each_test_has_its_own_queue(celery_worker):
            queue = celery_worker.app.conf.task_default_queue
            assert queue.startswith("appfactory-test-")
            assert [q.name for q in celery_worker.consumer.task_consumer.queues] == [queue]
        """
    )
    result = run(tasker, "--durations=0", "-vv")
    result.assert_outcomes(passed=3)
    assert _state.default_app is default_before
    assert "CELERY_LOG_LEVEL" not in os.environ
    assert (getattr(logging, "_warnings_showwarning", None) is not None) is capturing_before
    teardowns = [line for line in result.outlines if " teardown " in line and "::test_it" in line]
    assert teardowns, result.outlines
    assert float(teardowns[0].split("s")[0]) < 1.0, "the worker stops at once"


def test_celery_worker_on_the_embedded_broker(tasker: pytest.Pytester) -> None:
    tasker.makepyfile(
        """
        import os

        import pytest

        from taskpkg.tasks import where


        @pytest.mark.celery_broker("embedded")
        def test_it(app, celery_worker):
            assert celery_worker.app.conf.broker_url.startswith("sqlite-embedded:///")
            with app.app_context():
                assert where.delay().get(timeout=10)[0] == "tasker"
            assert os.path.isfile(os.path.join(app.instance_path, "celery", "store.sqlite3"))
        """
    )
    run(tasker).assert_outcomes(passed=1)


def test_celery_worker_on_redis(tasker: pytest.Pytester, redis_server: Server) -> None:
    tasker.makepyfile(
        f"""
        import pytest

        from taskpkg.tasks import where


        @pytest.mark.parametrize("celery_broker", ["redis", "{redis_server.url}/14"], indirect=True)
        def test_it(app, celery_worker, celery_broker):
            assert celery_worker.app.conf.broker_url.startswith("{redis_server.url}/")
            assert celery_worker.app.conf.result_backend == celery_worker.app.conf.broker_url
            with app.app_context():
                assert where.delay().get(timeout=10)[0] == "tasker"
        """
    )
    run(tasker).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("test", "message"),
    [
        (
            "import pytest\n\n@pytest.fixture(scope='session')\ndef celery_parameters():\n"
            "    return {'task_cls': 'x:Y'}\n\ndef test_it(celery_app):\n    pass\n",
            "celery_parameters is {'task_cls': 'x:Y'}, but appfactory.celery.testing uses the "
            "Flask app's own Celery app (celeryfactory(app)), made by no Celery(...) call of "
            "the tests: give settings in celery_config instead.",
        ),
        (
            "import pytest\n\n@pytest.mark.celery({'task_acks_late': True})\n"
            "def test_it(celery_app):\n    pass\n",
            "@pytest.mark.celery takes settings as keywords, not ({'task_acks_late': True},); "
            "write @pytest.mark.celery(task_acks_late=True).",
        ),
        (
            "import pytest\n\n@pytest.mark.celery_broker('carrier-pigeon')\n"
            "def test_it(celery_worker):\n    pass\n",
            "celery_broker is 'carrier-pigeon'; give one of 'memory', 'embedded', 'redis' or "
            "a broker URL such as 'redis://127.0.0.1:6379/1'.",
        ),
        (
            "import pytest\n\n@pytest.mark.celery_broker('redis', 'memory')\n"
            "def test_it(celery_worker):\n    pass\n",
            "@pytest.mark.celery_broker takes one argument, such as "
            "@pytest.mark.celery_broker('redis'), not ('redis', 'memory') {}.",
        ),
    ],
    ids=["celery-parameters", "positional-marker", "unknown-broker", "marker-with-two-brokers"],
)
def test_celery_fixture_misuse(tasker: pytest.Pytester, test: str, message: str) -> None:
    tasker.makepyfile(test)
    result = run(tasker)
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


# The guard of Celery's default app


def test_using_celerys_default_app_is_caught(tasker: pytest.Pytester) -> None:
    default_before = _state.default_app
    tasker.makepyfile(
        """
        import pytest
        from celery import _state, current_app

        from appfactory.celery.testing import CeleryDefaultAppError
        from taskpkg.tasks import where

        CAUSE = (
            "a shared task was called, or celery.current_app used, outside the app context "
            "of any Flask app"
        )


        def test_shared_task_outside_any_app_context(celery_app):
            with pytest.raises(CeleryDefaultAppError, match=CAUSE):
                where.delay()


        def test_celery_current_app_outside_any_app_context():
            with pytest.raises(CeleryDefaultAppError, match="'conf' was looked up"):
                current_app.conf


        def test_replaces_the_default_app(celery_app):
            celery_app.set_default()


        def test_leaves_a_celery_app_current(celery_app):
            celery_app.set_current()


        def test_leaks_an_app_context_with_celery(app, celery_app):
            app.app_context().push()


        def test_afterwards():
            assert type(_state.default_app).__name__ == "DefaultAppTrap"
            assert getattr(_state._tls, "current_app", None) is None
        """
    )
    result = run(tasker)
    result.assert_outcomes(passed=6, errors=3)
    output = result.stdout.str()
    assert "the test replaced Celery's default app with <FlaskCelery tasker" in output
    assert "the test left the Celery app 'tasker' current in this thread" in output
    assert "the test leaked an app context of 'tasker'" in output
    # One problem per test (the short summary may repeat a message, cut to the
    # terminal's width, so lines are compared, not counts of text).
    lines = [line.strip() for line in result.stdout.lines]
    assert not [line for line in lines if "leaked an app context" in line and "current" in line], (
        f"a leaked context is one problem:\n{output}"
    )
    assert len([line for line in lines if line.startswith("the test left the Celery app")]) == 1
    assert _state.default_app is default_before


# Celery's plugin's fixtures: the session worker, the guard's real cause


def test_session_worker_outlives_the_test_workers(tasker: pytest.Pytester) -> None:
    tasker.makeconftest(CONFTEST.replace('scope="module"', 'scope="session"'))
    tasker.makepyfile(
        """
        import pytest

        from taskpkg.tasks import where


        @pytest.mark.parametrize("run", range(3))
        def test_session_worker(celery_session_app, celery_session_worker, run):
            assert celery_session_worker.app is celery_session_app
            assert celery_session_app.flask_app.name == "tasker"
            # The session app is current in the test (use_celery_app_trap is off).
            assert where.delay().get(timeout=10)[0] == "tasker"


        @pytest.mark.parametrize("run", range(3))
        def test_a_test_worker(app, celery_worker, run):
            with app.app_context():
                assert where.delay().get(timeout=10)[0] == "tasker"


        @pytest.mark.parametrize("run", range(3))
        def test_session_worker_again(celery_session_worker, run):
            assert where.delay().get(timeout=10)[0] == "tasker"
        """
    )
    run(tasker).assert_outcomes(passed=9)


def test_session_fixtures_need_a_session_create_app(tasker: pytest.Pytester) -> None:
    tasker.makepyfile("def test_it(celery_session_app):\n    pass\n")
    result = run(tasker)
    result.assert_outcomes(errors=1)
    assert (
        "celery_session_app needs a create_app fixture of scope session: declare it with "
        "@pytest.fixture(scope='session') in your conftest.py." in result.stdout.str()
    )


def test_default_app_left_current_is_reported_as_such(tasker: pytest.Pytester) -> None:
    tasker.makepyfile(
        """
        from celery import _state


        def test_restores_a_saved_current_app():
            # What celery.contrib.testing.app.setup_default_app does on exit.
            _state._tls.current_app = _state.get_current_app()
        """
    )
    result = run(tasker)
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    assert "the test left Celery's default app current in this thread" in output
    assert "outside the app context" not in output
