"""appfactory.celery: Celery for apps built with appfactory."""

from __future__ import annotations

import typing as t

from .check_table import CHECKS
from .contexts import AppContextTask, RequestContextTask
from .discovery import load_tasks
from .errors import (
    BrokerUnavailableError,
    NoCeleryAppError,
    NoResultBackendError,
    NoWorkerError,
    TaskArgumentError,
)
from .extension import setup_app
from .factory import celeryfactory

# Deprecated (they warn), importable until appfactory-celery 0.3: celeryfactory()
# with load_tasks=False does what they did.
from .factory import celery_app as celery_app  # isort: skip
from .factory import create_celery_app as create_celery_app  # isort: skip
from .version import __version__

if t.TYPE_CHECKING:
    # Qualified in the signatures, as the reference documentation shows them.
    import sqlalchemy
    import sqlalchemy.orm

    import celery.canvas

__all__ = [
    "CHECKS",
    "AppContextTask",
    "BrokerUnavailableError",
    "NoCeleryAppError",
    "NoResultBackendError",
    "NoWorkerError",
    "RequestContextTask",
    "TaskArgumentError",
    "__version__",
    "celeryfactory",
    "load_tasks",
    "outbox_table",
    "send_on_commit",
    "setup_app",
]


def send_on_commit(
    signature: celery.canvas.Signature,
    session: sqlalchemy.orm.Session | None = None,
    **options: t.Any,
) -> str:
    """Send a signature once the transaction of the app's SQLAlchemy session commits.

    Needs ``appfactory-celery[sqlalchemy]`` (imported at the first call); the
    rules are those of :meth:`AppContextTask.apply_async_on_commit`. Chains,
    groups and chords are sent whole after the commit; with the outbox on,
    only a single task's signature can go through it. Returns the id given
    to the signature (the last task's, for a chain).

    >>> send_on_commit(index_row.s(row.id) | notify.s())  # doctest: +SKIP
    '9c1e...'
    """
    from .oncommit import send_on_commit as send

    return send(signature, session, **options)


def outbox_table(metadata: sqlalchemy.MetaData) -> sqlalchemy.Table:
    """Define the outbox table on ``metadata`` (once) and return it.

    Flask-SQLAlchemy apps with ``TASKS_OUTBOX`` on get it on ``db.metadata``
    when they load; an app with a session of its own (``TASKS_SESSION``)
    calls this on its models' metadata, so that ``create_all()`` and
    Alembic's autogenerate see the table. Needs the ``sqlalchemy`` extra.

    >>> from sqlalchemy import MetaData
    >>> from appfactory.celery import outbox_table
    >>> outbox_table(MetaData()).name
    'celery_outbox'
    """
    from .outbox import outbox_table as define

    return define(metadata)
