"""Guards active in every test of a project that enables the plugin.

``no_leaked_context`` fails a test that leaves a Flask app or request context
pushed; ``isolated_celery_state`` fails a test that uses Celery's global
default app, replaces it, or leaves a Celery app current. Both restore the
state they check, so that a failing test does not make the next ones fail.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import typing as t

import pytest
from flask.globals import _cv_app, _cv_request

from ..errors import AppFactoryError

#: How many leaked contexts are popped at most (a context that cannot be popped stops it).
_MAX_POPS = 100


class CeleryDefaultAppError(AppFactoryError):
    """A test used Celery's global default app (a shared task called outside any app context)."""


DEFAULT_APP_MESSAGE = (
    "Celery's default app was used ({name!r} was looked up on it): a shared task was "
    "called, or celery.current_app used, outside the app context of any Flask app. "
    "There Celery falls back to its global default app, which no Flask app configures, "
    "so the task would go to the wrong broker or never run. Call it inside "
    "'with app.app_context():' (requests, CLI commands and tasks run inside one), or use "
    "the app's own Celery app: appfactory.celery.celeryfactory(app).tasks[name]."
)


class DefaultAppTrap:
    """Stands in for Celery's default app during a test: any use raises an error.

    >>> DefaultAppTrap().tasks
    Traceback (most recent call last):
      ...
    appfactory.core.testing.guards.CeleryDefaultAppError: Celery's default app was used ...
    """

    def __getattr__(self, name: str) -> t.NoReturn:
        if name.startswith("__") and name.endswith("__"):
            # Probes such as copy's and pickle's are not a use of the app.
            raise AttributeError(name)
        raise CeleryDefaultAppError(DEFAULT_APP_MESSAGE.format(name=name))

    def __repr__(self) -> str:
        return "<Celery default app replaced by appfactory.core.testing>"


def describe_context(ctx: t.Any) -> str:
    """``'myapp'`` for a context of the app called myapp."""
    app = getattr(ctx, "app", None)
    return repr(getattr(app, "name", app))


def pop_contexts_since(request_before: t.Any, app_before: t.Any) -> list[str]:
    """Pop the request and app contexts pushed since the given ones; describe them.

    Request contexts first (each pops the app context it pushed), then app contexts.
    """
    leaks = []
    pairs = ((_cv_request, request_before, "request"), (_cv_app, app_before, "app"))
    for var, before, kind in pairs:
        for _ in range(_MAX_POPS):
            ctx: t.Any = var.get(None)
            if ctx is None or ctx is before:
                break
            article = "a" if kind == "request" else "an"
            leaks.append(f"the test leaked {article} {kind} context of {describe_context(ctx)}")
            try:
                ctx.pop()
            except Exception:
                break
    return leaks


@functools.cache
def celery_installed() -> bool:
    """Whether Celery can be imported in this environment (looked up once)."""
    return "celery" in sys.modules or importlib.util.find_spec("celery") is not None


@pytest.fixture(autouse=True)
def isolated_celery_state() -> t.Iterator[None]:
    """Replace Celery's default app by a trap for the test; check and restore its state.

    During the test Celery's default app raises :class:`CeleryDefaultAppError`
    on any use, and no Celery app is current in this thread. The test fails
    if it replaced the default app or left a Celery app current. Does
    nothing when Celery is not installed.
    """
    if not celery_installed():
        yield
        return
    from celery import _state

    default_before = _state.default_app
    current_before = getattr(_state._tls, "current_app", None)
    trap = DefaultAppTrap()
    _state.set_default_app(trap)
    _state._set_current_app(None)
    try:
        yield
    finally:
        default_after = _state.default_app
        current_after = getattr(_state._tls, "current_app", None)
        _state.set_default_app(default_before)
        _state._set_current_app(current_before)
        routing = sys.modules.get("appfactory.celery.routing")
        leftover = getattr(getattr(routing, "_local", None), "stack", None)
        if leftover:
            leftover.clear()
    problems = []
    if default_after is not trap:
        problems.append(
            f"the test replaced Celery's default app with {default_after!r} "
            "(app.set_default()); give each Flask app its own Celery app instead"
        )
    if current_after is not None:
        problems.append(
            f"the test left the Celery app {getattr(current_after, 'main', current_after)!r} "
            "current in this thread (app.set_current() without restoring the previous one)"
        )
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def no_leaked_context(
    isolated_celery_state: None,  # noqa: ARG001 (torn down after this one)
) -> t.Iterator[None]:
    """Fail a test that leaves a Flask app or request context pushed.

    Contexts pushed before the test (by a fixture of a wider scope) are
    left alone; the leaked ones are popped, so that the next test starts
    clean. (It uses ``isolated_celery_state`` so that leaked contexts are
    popped before Celery's state is checked.)
    """
    request_before = _cv_request.get(None)
    app_before = _cv_app.get(None)
    yield
    leaks = pop_contexts_since(request_before, app_before)
    if leaks:
        pytest.fail(
            "; ".join(leaks) + ": pop every context the test pushes, for example with "
            "'with app.app_context():' or 'with app.test_request_context():'",
            pytrace=False,
        )
