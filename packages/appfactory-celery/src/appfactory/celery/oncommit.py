"""Tasks sent once the database transaction that wrote their data commits.

A task sent before its transaction commits can reach a worker before its
rows exist. A send made "on commit" waits for the commit of the SQLAlchemy
session's transaction that is open at the call:

* the session commits: the task is sent right after the commit;
* the transaction rolls back (or the session closes without committing): it
  is never sent;
* no transaction is open: it is sent at once, as ``delay()`` would;
* inside a savepoint (``session.begin_nested()``): a savepoint rolled back
  drops its tasks, one released hands them to the transaction around it.

Sends wait in ``session.info``, keyed by the transaction (or savepoint) open
at the call, and SQLAlchemy's session events move them along. With
``TASKS_OUTBOX`` on, the task is instead written into the outbox table in the
same transaction (see :mod:`appfactory.celery.outbox`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import typing as t
from dataclasses import dataclass, field

from flask import Flask

from appfactory.core import AppFactoryError, ConfigError

try:
    from sqlalchemy import event
    from sqlalchemy.orm import Session, SessionTransaction
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ConfigError(
        "Sending tasks on commit needs SQLAlchemy: install appfactory-celery[sqlalchemy] "
        "(SQLAlchemy 2 and Flask-SQLAlchemy)."
    ) from exc

from celery import Task
from celery.canvas import Signature
from celery.utils import uuid

from .sending import send_refusal
from .sessions import current_session, outbox_enabled, session_source

logger = logging.getLogger(__name__)

#: Where a session keeps the sends waiting for its transactions, in ``session.info``.
INFO_KEY = "appfactory.celery.on_commit"

Send = t.Callable[[], object]


@dataclass
class Waiting:
    """The sends made in one transaction or savepoint."""

    sends: list[tuple[Send, str]] = field(default_factory=list)
    #: Set by ``after_commit``: the transaction (or savepoint) committed.
    committed: bool = False


def apply_on_commit(
    task: Task,
    args: t.Any = None,
    kwargs: t.Any = None,
    session: Session | None = None,
    **options: t.Any,
) -> str:
    """Send ``task`` with ``args``, ``kwargs`` and ``options`` once the transaction commits.

    Returns the task's id (chosen now, unless ``task_id`` is given).
    """
    # Refused at the call, not after the commit: a serializer workers refuse, dict keys
    # that JSON would turn into strings.
    refused = send_refusal(task, args, kwargs, options)
    if refused is not None:
        raise refused
    task_id = str(options.pop("task_id", None) or uuid())
    flask_app = _flask_app(task.app, task.name)
    if session is None:
        session = current_session(flask_app, session_source(flask_app))
    if session is None or not session.in_transaction():
        task.apply_async(args, kwargs, task_id=task_id, **options)
        return task_id
    if outbox_enabled(flask_app) and not task.app.conf.task_always_eager:
        from .outbox import write

        write(session, task, args, kwargs, task_id, options)
        return task_id

    def send() -> None:
        with _own_session(flask_app, task.app):
            task.apply_async(args, kwargs, task_id=task_id, **options)

    wait_for_commit(session, send, f"task {task.name!r} ({task_id})")
    return task_id


def send_on_commit(signature: Signature, session: Session | None = None, **options: t.Any) -> str:
    """Send a signature (a task with its arguments, or a chain, a group...) once the
    transaction of the app's SQLAlchemy session commits; at once when none is open.

    The rules of :meth:`AppContextTask.apply_async_on_commit` apply. With the
    outbox on, only a single task's signature can go through it. Returns the
    id given to the signature (the last task's, for a chain).

    >>> from celery import signature
    >>> send_on_commit(signature("mymodule.tasks.appctx"))  # doctest: +SKIP
    '5d6e...'
    """
    options = {**signature.options, **options}
    task_id = str(options.pop("task_id", None) or uuid())
    flask_app = _flask_app(signature.app, str(signature.task))
    if session is None:
        session = current_session(flask_app, session_source(flask_app))
    frozen = signature.clone()
    if session is None or not session.in_transaction():
        return str(frozen.apply_async(task_id=task_id, **options).id)
    celery = frozen.app
    if outbox_enabled(flask_app) and not celery.conf.task_always_eager:
        from .outbox import write_signature

        write_signature(session, frozen, task_id, options)
        return task_id

    def send() -> None:
        with _own_session(flask_app, celery):
            frozen.apply_async(task_id=task_id, **options)

    wait_for_commit(session, send, f"{frozen.task!r} ({task_id})")
    return task_id


def wait_for_commit(session: Session, send: Send, described: str) -> None:
    """Call ``send`` after the commit of the transaction (or savepoint) open in ``session``."""
    _listen()
    transaction = _boundary(session)
    waiting: dict[SessionTransaction, Waiting] = session.info.setdefault(INFO_KEY, {})
    entry = waiting.get(transaction)
    if entry is None:
        entry = waiting[transaction] = Waiting()
    entry.sends.append((send, described))


def _own_session(flask_app: Flask, celery: t.Any) -> t.ContextManager[object]:
    """For a task run eagerly: an app context of its own, hence a session of its own.

    A worker runs a task with a session of its own; so does an eager run,
    which also leaves alone the session still finishing its commit (inside
    ``with session.begin():`` that session accepts no statement until the
    block ends).
    """
    if celery.conf.task_always_eager:
        return flask_app.app_context()
    return contextlib.nullcontext()


def _flask_app(celery: t.Any, name: str) -> Flask:
    flask_app = getattr(celery, "flask_app", None)
    if not isinstance(flask_app, Flask):
        raise AppFactoryError(
            f"{name} cannot be sent on commit: its Celery app {celery.main!r} has no Flask "
            "app, so no session to follow. Create the Celery app with "
            "appfactory.celery.celeryfactory(flask_app), and send inside the app's context."
        )
    return flask_app


def _boundary(session: Session) -> SessionTransaction:
    """The savepoint open in ``session``, else its root transaction."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None, "only called with a transaction open"
    return transaction


def _enclosing(transaction: SessionTransaction) -> SessionTransaction | None:
    """The savepoint or root transaction around ``transaction``, ``None`` for a root."""
    parent = transaction.parent
    while parent is not None and not (parent.nested or parent.parent is None):
        parent = parent.parent
    return parent


def _after_commit(session: Session) -> None:
    # Fires for the root transaction and for each released savepoint, while
    # it is still the session's current one.
    waiting = session.info.get(INFO_KEY)
    if waiting:
        entry = waiting.get(_boundary(session))
        if entry is not None:
            entry.committed = True


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    waiting = session.info.get(INFO_KEY)
    if not waiting:
        return
    entry = waiting.pop(transaction, None)
    if entry is None:
        return
    if not entry.committed:
        for _, described in entry.sends:
            logger.debug("Not sent, its transaction did not commit: %s", described)
        return
    enclosing = _enclosing(transaction)
    if enclosing is not None:
        # A released savepoint: its tasks now wait for the transaction around it.
        outer = waiting.get(enclosing)
        if outer is None:
            outer = waiting[enclosing] = Waiting()
        outer.sends.extend(entry.sends)
        return
    _send_all(entry.sends)


def _send_all(sends: list[tuple[Send, str]]) -> None:
    """Send every task of a committed transaction; then raise the first failure."""
    failures: list[BaseException] = []
    for send, described in sends:
        try:
            send()
        except Exception as exc:
            if not failures:
                failures.append(exc)
            logger.error(
                "Not sent after the commit of its transaction (the data is committed): "
                "%s: %s. TASKS_OUTBOX keeps such tasks until the broker takes them.",
                described,
                exc,
            )
    if failures:
        raise failures[0]


@functools.cache
def _listen() -> None:
    # Once per process, for every session: the listeners do nothing for a
    # session that has no send waiting.
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
