"""The guard of Celery's state, active in every test of a project that enables the plugin.

``isolated_celery_state`` fails a test that uses Celery's global default app,
replaces it, or leaves a Celery app current; it restores the state it
checks, so that a failing test does not make the next ones fail.
"""

from __future__ import annotations

import typing as t

import pytest

from appfactory.core import AppFactoryError
from celery import _state

from .. import routing


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
    appfactory.celery.testing.guards.CeleryDefaultAppError: Celery's default app was used ...
    """

    def __getattr__(self, name: str) -> t.NoReturn:
        if name.startswith("__") and name.endswith("__"):
            # Probes such as copy's and pickle's are not a use of the app.
            raise AttributeError(name)
        raise CeleryDefaultAppError(DEFAULT_APP_MESSAGE.format(name=name))

    def __repr__(self) -> str:
        return "<Celery default app replaced by appfactory.celery.testing>"


def problems_after(
    trap: DefaultAppTrap, default_after: t.Any, current_after: t.Any, allowed: t.Any = None
) -> list[str]:
    """What a test did to Celery's state, given what it left (one sentence each).

    ``allowed`` may be left current (the session's Celery app, made current for the test).
    """
    problems = []
    if default_after is not trap:
        problems.append(
            f"the test replaced Celery's default app with {default_after!r} "
            "(app.set_default()); give each Flask app its own Celery app instead"
        )
    if current_after is trap:
        problems.append(
            "the test left Celery's default app current in this thread: something saved "
            "celery.current_app outside any app context and set it back as the current app "
            "(as celery.contrib.testing.app.setup_default_app does); enable only one of "
            "appfactory.celery.testing and celery.contrib.pytest"
        )
    elif current_after is not None and current_after is not allowed:
        problems.append(
            f"the test left the Celery app {getattr(current_after, 'main', current_after)!r} "
            "current in this "
            "thread (app.set_current() without restoring the previous one)"
        )
    return problems


@pytest.fixture(autouse=True)
def isolated_celery_state(request: pytest.FixtureRequest) -> t.Iterator[None]:
    """Replace Celery's default app by a trap for the test; check and restore its state.

    During the test Celery's default app raises :class:`CeleryDefaultAppError`
    on any use, and no Celery app is current in this thread (but
    ``celery_session_app``, in a test that uses it, unless
    ``use_celery_app_trap``). The test fails if it replaced the default app or
    left another Celery app current.
    """
    session_app = None
    if "celery_session_app" in request.fixturenames and not request.getfixturevalue(
        "use_celery_app_trap"
    ):
        session_app = request.getfixturevalue("celery_session_app")
    default_before = _state.default_app
    current_before = getattr(_state._tls, "current_app", None)
    trap = DefaultAppTrap()
    _state.set_default_app(trap)
    _state._set_current_app(session_app)
    try:
        yield
    finally:
        default_after = _state.default_app
        current_after = getattr(_state._tls, "current_app", None)
        _state.set_default_app(default_before)
        _state._set_current_app(current_before)
        leftover = getattr(routing._local, "stack", None)
        if leftover:
            leftover.clear()
    problems = problems_after(trap, default_after, current_after, session_app)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def no_leaked_context(
    isolated_celery_state: None,
    no_leaked_context: None,
) -> None:
    """appfactory.core.testing's guard, set up after :func:`isolated_celery_state`:
    so leaked contexts are popped (and reported) before Celery's state is checked,
    and a leaked context is one problem, not two."""
