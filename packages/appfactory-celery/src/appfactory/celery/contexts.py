"""Task bases that run a task inside its Flask app's context.

The context is entered around ``run`` rather than in ``__call__``: a task class
that overrides ``__call__`` makes Celery's tracer take its slow path on every
call, while wrapping ``run`` keeps the fast one.
"""

from __future__ import annotations

import functools
import time
import typing as t

from flask import Flask
from flask.globals import _cv_app

from celery import Task

from .errors import NoCeleryAppError
from .sending import chained_cause, send_error, send_refusal

Run = t.Callable[..., t.Any]
Enter = t.Callable[[Flask, Run, tuple[t.Any, ...], dict[str, t.Any]], t.Any]


def flask_app_of(task: Task) -> Flask:
    """The Flask app bound to a task's Celery app."""
    flask_app = getattr(task.app, "flask_app", None)
    if not isinstance(flask_app, Flask):
        raise NoCeleryAppError(
            f"Task {task.name!r} runs in a Flask app context, but its Celery app "
            f"{task.app.main!r} has no Flask app; create the Celery app with "
            "appfactory.celery.celeryfactory(flask_app)."
        )
    return flask_app


def in_app_context(
    flask_app: Flask, run: Run, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
) -> t.Any:
    """Call ``run`` in ``flask_app``'s context, reusing an active one of the same app."""
    active = _cv_app.get(None)
    if active is not None and active.app is flask_app:
        return run(*args, **kwargs)
    with flask_app.app_context():
        return run(*args, **kwargs)


def in_request_context(
    flask_app: Flask, run: Run, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
) -> t.Any:
    """Call ``run`` in a test request context of ``flask_app``, with request hooks."""
    with flask_app.test_request_context():
        flask_app.preprocess_request()
        result = run(*args, **kwargs)
        flask_app.process_response(flask_app.response_class())
        return result


def wrap_run(run: t.Any, enter: Enter) -> Run:
    """Wrap a task class's ``run`` (a function or a staticmethod) with ``enter``."""
    bound = not isinstance(run, staticmethod)
    function: Run = run if bound else run.__func__

    if enter is in_app_context:
        # in_app_context inlined: a task called from a view or a command finds its
        # app's context active, and then costs no more than this check.
        @functools.wraps(function)
        def run_in_context(self: Task, *args: t.Any, **kwargs: t.Any) -> t.Any:
            call_args = (self, *args) if bound else args
            flask_app = flask_app_of(self)
            active = _cv_app.get(None)
            if active is not None and active.app is flask_app:
                return function(*call_args, **kwargs)
            with flask_app.app_context():
                return function(*call_args, **kwargs)

    else:

        @functools.wraps(function)
        def run_in_context(self: Task, *args: t.Any, **kwargs: t.Any) -> t.Any:
            call_args = (self, *args) if bound else args
            return enter(flask_app_of(self), function, call_args, kwargs)

    run_in_context.__appfactory_context__ = True  # type: ignore[attr-defined]
    return run_in_context


class AppContextTask(Task):  # type: ignore[misc]
    """Runs the task in the app context of its Celery app's Flask app.

    An active context of the same Flask app is reused, not nested, so objects
    bound to it (database sessions, for example) survive the task.
    """

    abstract = True
    _enter: t.ClassVar[Enter] = staticmethod(in_app_context)

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if run is not None and not getattr(run, "__appfactory_context__", False):
            cls.run = wrap_run(run, cls._enter)

    def apply_async(
        self, args: t.Any = None, kwargs: t.Any = None, *more: t.Any, **options: t.Any
    ) -> t.Any:
        """Send the task, as Celery does; a failure to send is told plainly.

        A broker (or result backend) that cannot be reached after the publish
        retries raises :class:`~appfactory.celery.BrokerUnavailableError`, an
        argument the serializer cannot carry raises
        :class:`~appfactory.celery.TaskArgumentError`, both naming the task;
        so does, before anything is sent, a serializer the workers do not
        accept, or a dict argument with keys that are not strings (JSON would
        make them strings). Tuples arrive as lists, as JSON has no tuples.
        """
        refused = send_refusal(self, args, kwargs, options)
        if refused is not None:
            raise refused
        started = time.monotonic()
        try:
            return super().apply_async(args, kwargs, *more, **options)
        except Exception as exc:
            error = send_error(self, exc, args, kwargs, options, time.monotonic() - started)
            if error is None:
                raise
            raise error from chained_cause(error, exc)

    def delay_on_commit(self, *args: t.Any, **kwargs: t.Any) -> str:
        """Like ``delay()``, but sent once the database transaction commits.

        Needs ``appfactory-celery[sqlalchemy]``; see
        :meth:`apply_async_on_commit` for the rules. Returns the task's id.

        >>> appctx.delay_on_commit()  # doctest: +SKIP
        'f3b1...'
        """
        return self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(
        self, args: t.Any = None, kwargs: t.Any = None, **options: t.Any
    ) -> str:
        """Like ``apply_async()``, but sent once the database transaction commits.

        The transaction is the one open in the app's SQLAlchemy session at the
        call (Flask-SQLAlchemy's ``db.session``, or the session named by
        ``TASKS_SESSION``; ``session=`` names another one for this call). The
        task is sent right after the commit, never if the transaction rolls
        back, and at once when no transaction is open; a savepoint that rolls
        back drops its tasks. With ``TASKS_OUTBOX`` on, the task is written to
        the outbox table in the same transaction and relayed after the commit.
        Returns the task's id, chosen now (or ``task_id=``).

        >>> with db.session.begin():  # doctest: +SKIP
        ...     db.session.add(row)
        ...     index_row.apply_async_on_commit((row.id,), countdown=5)
        """
        from .oncommit import apply_on_commit

        return apply_on_commit(self, args, kwargs, **options)


class RequestContextTask(AppContextTask):
    """Runs the task in a test request context of its Flask app.

    ``before_request`` and ``after_request`` functions run around the task.
    """

    abstract = True
    _enter: t.ClassVar[Enter] = staticmethod(in_request_context)
