"""Task bases that run a task in its Flask app's context (eager mode)."""

from __future__ import annotations

import re
import typing as t

import flask_celeryext
import pytest
from celery import Celery, Task, shared_task
from celery.app.trace import task_has_custom
from flask import Flask, current_app, g, request
from flask.globals import _cv_app

from appfactory.celery import AppContextTask, NoCeleryAppError, RequestContextTask, celeryfactory
from appfactory.core import appfactory

#: What the tasks below saw while they ran.
seen: list[t.Any] = []


@shared_task(name="test_contexts.app_name")
def app_name() -> str:
    return t.cast(str, current_app.name)


@shared_task(name="test_contexts.context")
def context_marker() -> str | None:
    seen.append(_cv_app.get(None))
    return t.cast("str | None", g.get("marker"))


@shared_task(name="test_contexts.request", base=RequestContextTask)
def request_info() -> str:
    return f"{request.method} {request.path} {g.get('hook')} {current_app.name}"


@shared_task(name="test_contexts.ext_request", base=flask_celeryext.RequestContextTask)
def ext_request_info() -> str:
    return f"{request.method} {g.get('hook')} {current_app.name}"


@shared_task(name="test_contexts.bound", bind=True)
def bound(self: Task, value: int) -> str:
    seen.append(self)
    return f"{self.name} {current_app.name} {value}"


@shared_task(name="test_contexts.fail")
def fail(message: str) -> None:
    seen.append(_cv_app.get(None))
    raise ValueError(message)


@pytest.fixture(autouse=True)
def _forget_seen() -> t.Iterator[None]:
    seen.clear()
    yield
    seen.clear()


def make_app(app_name: str = "testapp", **config: t.Any) -> Flask:
    config.setdefault("EXTENSIONS", ["appfactory.celery"])
    config.setdefault("CELERY_TASK_ALWAYS_EAGER", True)
    config.setdefault("SECRET_KEY", "test")
    return appfactory(app_name, None, **config)


def count_teardowns(app: Flask) -> list[Flask]:
    """A list that grows by one each time an app context of ``app`` ends."""
    torn_down: list[Flask] = []
    app.teardown_appcontext(lambda exc: torn_down.append(app))
    return torn_down


# The app context.


def test_tutorials_appctx_returns_the_app_name() -> None:
    from mymodule.tasks import appctx

    app = make_app(PACKAGES=["mymodule"])
    celeryfactory(app)

    with app.app_context():
        assert appctx.delay().get() == "testapp"
        assert app_name.delay().get() == "testapp"


def test_task_pushes_its_apps_context_when_none_is_active() -> None:
    app = make_app()
    celery = celeryfactory(app)
    torn_down = count_teardowns(app)

    assert celery.tasks["test_contexts.app_name"].delay().get() == "testapp"
    assert celery.tasks["test_contexts.context"].delay().get() is None

    assert seen[0].app is app
    assert torn_down == [app, app]
    assert _cv_app.get(None) is None


def test_calling_the_task_directly_runs_in_the_app_context() -> None:
    app = make_app()
    celery = celeryfactory(app)

    assert celery.tasks["test_contexts.app_name"]() == "testapp"


def test_active_context_of_the_same_app_is_reused() -> None:
    app = make_app()
    celeryfactory(app)
    torn_down = count_teardowns(app)

    with app.app_context() as context:
        g.marker = "set before delay"

        assert context_marker.delay().get() == "set before delay"
        assert context_marker() == "set before delay"

        assert seen == [context, context]
        # Not nested: no inner context was torn down under the caller's feet.
        assert torn_down == []
        assert _cv_app.get(None) is context
        assert g.marker == "set before delay"
    assert torn_down == [app]


def test_another_apps_context_gets_the_tasks_own_app_context() -> None:
    app = make_app("testapp")
    other = make_app("otherapp")
    celery, other_celery = celeryfactory(app), celeryfactory(other)
    torn_down = count_teardowns(app)

    with other.app_context() as other_context:
        g.marker = "other's"

        assert celery.tasks["test_contexts.context"].delay().get() is None
        assert celery.tasks["test_contexts.app_name"].delay().get() == "testapp"

        assert seen[0].app is app
        assert seen[0] is not other_context
        assert torn_down == [app, app]
        assert _cv_app.get(None) is other_context
        assert current_app.name == "otherapp"
        assert context_marker.app is other_celery
        assert context_marker.delay().get() == "other's"


# The request context.


def test_request_context_task_runs_request_hooks() -> None:
    app = make_app()
    celery = celeryfactory(app)
    responses: list[int] = []

    @app.before_request
    def hook() -> None:
        g.hook = "before_request ran"

    @app.after_request
    def after(response: t.Any) -> t.Any:
        responses.append(response.status_code)
        return response

    with app.app_context():
        assert request_info.delay().get() == "GET / before_request ran testapp"
    assert celery.tasks["test_contexts.request"].delay().get() == (
        "GET / before_request ran testapp"
    )
    assert responses == [200, 200]


def test_tutorials_reqctx_returns_get() -> None:
    from mymodule.tasks import reqctx

    app = make_app(PACKAGES=["mymodule"])
    celeryfactory(app)

    with app.app_context():
        assert reqctx.delay().get() == "GET"


def test_flask_celeryexts_request_context_task_works_with_our_celery_app() -> None:
    app = make_app()
    celery = celeryfactory(app)
    app.before_request(lambda: setattr(g, "hook", "hooked"))

    task = celery.tasks["test_contexts.ext_request"]

    assert isinstance(task, flask_celeryext.RequestContextTask)
    assert task.delay().get() == "GET hooked testapp"
    with app.app_context():
        assert ext_request_info.delay().get() == "GET hooked testapp"


# Binding, exceptions.


def test_bound_task_gets_self() -> None:
    app = make_app()
    celery = celeryfactory(app)

    with app.app_context():
        assert bound.delay(7).get() == "test_contexts.bound testapp 7"

    assert seen == [celery.tasks["test_contexts.bound"]]


@pytest.mark.parametrize(
    "key", ["CELERY_TASK_EAGER_PROPAGATES", "CELERY_EAGER_PROPAGATES_EXCEPTIONS"]
)
def test_exceptions_propagate(key: str) -> None:
    app = make_app(**{key: True})
    celery = celeryfactory(app)
    torn_down = count_teardowns(app)

    with pytest.raises(ValueError, match=r"^outside a context$"):
        celery.tasks["test_contexts.fail"].delay("outside a context")
    assert torn_down == [app]

    with app.app_context() as context, pytest.raises(ValueError, match=r"^inside$"):
        fail.delay("inside")
    assert seen[-1] is context


def test_exception_is_stored_without_propagation() -> None:
    app = make_app(CELERY_TASK_EAGER_PROPAGATES=False)
    celery = celeryfactory(app)

    result = celery.tasks["test_contexts.fail"].delay("kept in the result")

    assert result.failed()
    assert isinstance(result.result, ValueError)
    with pytest.raises(ValueError, match=r"^kept in the result$"):
        result.get()


def test_task_of_a_celery_app_without_flask_app() -> None:
    bare = Celery("bare", set_as_current=False, task_cls=AppContextTask)

    @bare.task(name="test_contexts.bare")
    def orphan() -> None:
        """Never runs."""

    with pytest.raises(
        NoCeleryAppError,
        match=re.escape(
            "Task 'test_contexts.bare' runs in a Flask app context, but its Celery app 'bare' "
            "has no Flask app; create the Celery app with "
            "appfactory.celery.celeryfactory(flask_app)."
        ),
    ):
        bare.tasks["test_contexts.bare"]()


# The tracer's fast path, and ``run`` wrapped once.


def wrapping_depth(run: t.Any) -> int:
    """How many context wrappers sit around a ``run`` function."""
    depth = 0
    while getattr(run, "__appfactory_context__", False):
        depth += 1
        run = run.__wrapped__
    return depth


@pytest.mark.parametrize(
    "name", ["test_contexts.app_name", "test_contexts.request", "test_contexts.bound"]
)
def test_tracer_fast_path_is_kept(name: str) -> None:
    task = celeryfactory(make_app()).tasks[name]

    assert not task_has_custom(task, "__call__")
    assert isinstance(task, AppContextTask)
    assert wrapping_depth(type(task).__dict__["run"]) == 1


def test_flask_celeryexts_own_base_takes_the_slow_path() -> None:
    # The check above can tell: Flask-CeleryExt's bases override __call__.
    task = celeryfactory(make_app()).tasks["test_contexts.ext_request"]

    assert task_has_custom(task, "__call__")


def test_run_is_wrapped_once_along_subclasses() -> None:
    app = make_app()
    celery = celeryfactory(app)

    class Base(AppContextTask):
        def run(self, value: int) -> str:
            return f"{current_app.name}:{value}"

    class Child(Base):
        name = "test_contexts.child"

    class GrandChild(Child):
        name = "test_contexts.grandchild"

        def run(self, value: int) -> str:
            return "grand " + super().run(value)

    class Alias(Base):
        name = "test_contexts.alias"
        # An already wrapped run, taken over as the class's own.
        run = Base.run

    class Request(RequestContextTask):
        name = "test_contexts.class_request"

        def run(self) -> str:
            return f"{request.method} {current_app.name}"

    assert "run" not in AppContextTask.__dict__
    assert "run" not in Child.__dict__
    assert Child.run is Base.run
    assert wrapping_depth(Base.run) == 1
    assert wrapping_depth(GrandChild.run) == 1
    assert Alias.run is Base.run
    assert wrapping_depth(Request.run) == 1
    generated = type(celery.tasks["test_contexts.app_name"])
    assert type("Again", (generated,), {}).run is generated.run

    for cls in (Child, GrandChild, Alias, Request):
        celery.register_task(cls())
    assert celery.tasks["test_contexts.child"].delay(1).get() == "testapp:1"
    assert celery.tasks["test_contexts.grandchild"].delay(2).get() == "grand testapp:2"
    assert celery.tasks["test_contexts.alias"].delay(3).get() == "testapp:3"
    assert celery.tasks["test_contexts.class_request"].delay().get() == "GET testapp"
    assert not task_has_custom(celery.tasks["test_contexts.grandchild"], "__call__")
