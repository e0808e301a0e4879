"""The outbox: tasks written in the transaction of their data, relayed after its commit.

With ``TASKS_OUTBOX`` on, a task sent on commit while a transaction is open
becomes a row of the table ``celery_outbox``, written by the same session in
the same transaction: it commits with the data, or rolls back with it. A
relay (in the worker, :mod:`appfactory.celery.relay`, or ``myapp outbox
relay``) later publishes each row to the broker and deletes it, in the order
of the rows' ids. A broker that is down, or a web process that dies right
after the commit, loses nothing: the row waits until a relay pass succeeds.

What is stored is the call (task name, arguments, keyword arguments and the
sending options) as JSON (kombu's encoder, which also carries dates, UUIDs
and decimals); the relay sends it with ``send_task`` and the task id chosen
at the call, so the worker sees the task as ``apply_async`` would have sent it.
"""

from __future__ import annotations

import datetime
import logging
import typing as t
from dataclasses import dataclass

from flask import Flask
from kombu.exceptions import EncodeError, OperationalError
from kombu.utils import json
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from appfactory.core import AppFactoryError, ConfigError, describe_exception, mask_url
from celery import Celery, Task
from celery.canvas import Signature

from .broker import describe_broker
from .errors import TaskArgumentError
from .sending import send_error
from .sessions import FLASK_SQLALCHEMY, session_source

logger = logging.getLogger(__name__)

#: The name of the outbox table.
TABLE_NAME = "celery_outbox"
#: Rows published per relay pass (one database transaction).
BATCH_SIZE = 100
#: The key of the PostgreSQL advisory lock that lets one relay pass run at a time.
ADVISORY_LOCK_KEY = 0x0A7FAC70
#: Characters of an error kept in ``last_error``.
ERROR_LENGTH = 1000


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table on ``metadata`` (defined once; later calls return it).

    Flask-SQLAlchemy apps get it on ``db.metadata`` when the app loads, so that
    ``db.create_all()`` and Alembic's autogenerate see it; with a session of
    your own (``TASKS_SESSION``), call this on your models' metadata.

    >>> from sqlalchemy import MetaData
    >>> outbox_table(MetaData()).name
    'celery_outbox'
    """
    found = metadata.tables.get(TABLE_NAME)
    if found is not None:
        return found
    return Table(
        TABLE_NAME,
        metadata,
        # Integer on SQLite: only an INTEGER PRIMARY KEY is its rowid, numbered in order.
        Column(
            "id",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("task_id", String(255), nullable=False, unique=True),
        Column("task", String(255), nullable=False),
        Column("message", Text(), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("attempts", Integer(), nullable=False, server_default="0"),
        Column("last_error", Text(), nullable=True),
        Column("failed_at", DateTime(timezone=True), nullable=True),
        comment="Celery tasks committed with their data, waiting to be relayed to the broker",
    )


#: The table as this module reads and writes it (same name and columns as the app's).
TABLE = outbox_table(MetaData())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write(
    session: Session,
    task: Task,
    args: t.Any,
    kwargs: t.Any,
    task_id: str,
    options: dict[str, t.Any],
) -> None:
    """Write ``task``'s call into the outbox, in ``session``'s open transaction."""
    exec_options = {k: v for k, v in task._get_exec_options().items() if v is not None}
    options = {**exec_options, **options}
    options.setdefault("ignore_result", task.ignore_result)
    _insert(session, task.name, args, kwargs, task_id, options, task)


def write_signature(
    session: Session, signature: Signature, task_id: str, options: dict[str, t.Any]
) -> None:
    """Write a single task's signature into the outbox, in ``session``'s open transaction."""
    name = signature.task
    if not isinstance(name, str) or name.startswith("celery."):
        raise AppFactoryError(
            f"Signature {signature!r} cannot go through the outbox: only a single task's "
            "signature can (not a chain, group or chord). Send each task on commit, or "
            "send the canvas from a task that the outbox relays."
        )
    task = signature.app.tasks.get(name)
    if task is not None:
        write(session, task, signature.args, signature.kwargs, task_id, options)
    else:
        _insert(session, name, signature.args, signature.kwargs, task_id, options, None)


def _insert(
    session: Session,
    name: str,
    args: t.Any,
    kwargs: t.Any,
    task_id: str,
    options: dict[str, t.Any],
    task: Task | None,
) -> None:
    stored = dict(options)
    now = _now()
    # Relative times start at the call, not at the relay.
    countdown = stored.pop("countdown", None)
    if countdown and not stored.get("eta"):
        stored["eta"] = now + datetime.timedelta(seconds=float(countdown))
    expires = stored.get("expires")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        stored["expires"] = now + datetime.timedelta(seconds=float(expires))
    body = {"args": list(args or ()), "kwargs": dict(kwargs or {}), "options": stored}
    try:
        message = json.dumps(body)  # type: ignore[no-untyped-call]
    except (TypeError, ValueError) as exc:
        raise _argument_error(name, task, args, kwargs, exc) from exc
    values = {"task_id": task_id, "task": name, "message": message, "created_at": now}
    try:
        session.execute(insert(TABLE).values(**values, attempts=0))
    except SQLAlchemyError as exc:
        raise AppFactoryError(
            f"Task {name!r} ({task_id}) could not be written to the outbox table "
            f"{TABLE_NAME!r} ({mask_url(describe_exception(exc))}). If the table does not "
            "exist, create it: db.create_all(), or a migration (`myapp check` reports it "
            "as AF306)."
        ) from exc


def _argument_error(
    name: str, task: Task | None, args: t.Any, kwargs: t.Any, exc: Exception
) -> AppFactoryError:
    if task is not None:
        error = send_error(task, EncodeError(exc), args, kwargs, {"serializer": "json"}, 0.0)
        if error is not None:
            return error
    return TaskArgumentError(
        f"Task {name!r} was not written to the outbox: an argument cannot be stored as "
        f"JSON ({describe_exception(exc)}). Pass plain data instead (str, int, float, "
        "bool, None, lists and dicts of them)."
    )


# -- the database of the outbox -----------------------------------------------------------


def database_engine(flask_app: Flask) -> Engine:
    """The engine of the session that the app's outbox rows are written with."""
    source = session_source(flask_app)
    with flask_app.app_context():
        if source.needs_app_context:
            return t.cast(Engine, flask_app.extensions[FLASK_SQLALCHEMY].engine)
        target = source.target
        session = target() if hasattr(target, "registry") else target
        bind = session.get_bind()
    if isinstance(bind, Connection):
        return bind.engine
    return t.cast(Engine, bind)


def define_on_app_metadata(flask_app: Flask) -> None:
    """Define the outbox table on Flask-SQLAlchemy's ``db.metadata``, if the app has it."""
    extension = flask_app.extensions.get(FLASK_SQLALCHEMY)
    if extension is not None and flask_app.config.get("TASKS_SESSION") is None:
        outbox_table(extension.metadata)


def table_exists(engine: Engine) -> bool:
    """Whether the outbox table exists in ``engine``'s database."""
    return bool(inspect(engine).has_table(TABLE_NAME))


# -- relaying -----------------------------------------------------------------------------


@dataclass
class RelayPass:
    """What one relay pass did."""

    #: Messages published to the broker (and deleted from the outbox).
    sent: int = 0
    #: Messages the broker refused for a reason of their own, now marked failed.
    failed: int = 0
    #: Another relay pass held the lock: this one did nothing.
    busy: bool = False
    #: Why the pass stopped early: the broker could not be reached.
    error: str | None = None
    #: Whether the pass read a full batch (more may wait).
    full: bool = False


def relay_once(celery: Celery, engine: Engine, batch: int = BATCH_SIZE) -> RelayPass:
    """Publish up to ``batch`` waiting messages in order, deleting those the broker took.

    The pass stops at the first message the broker cannot take for want of a
    connection (the rest keep their order for the next pass); a message
    refused for a reason of its own is marked failed and skipped from then on.
    Each publish retries as ``CELERY_TASK_PUBLISH_RETRY_POLICY`` says (a
    bounded wait). On PostgreSQL one pass runs at a time (an advisory lock);
    elsewhere the rows are locked with ``FOR UPDATE SKIP LOCKED`` where the
    database has it.
    """
    done = RelayPass()
    broker = describe_broker(celery.conf.broker_url)
    with engine.begin() as conn:
        postgresql = conn.dialect.name == "postgresql"
        if postgresql and not conn.scalar(
            select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))
        ):
            done.busy = True
            return done
        query = select(TABLE).where(TABLE.c.failed_at.is_(None)).order_by(TABLE.c.id).limit(batch)
        if not postgresql:
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        done.full = len(rows) == batch
        relayed: list[int] = []
        unreachable = _connection_errors(celery)
        for row in rows:
            try:
                _publish(celery, row)
            except Exception as exc:
                error = " ".join(mask_url(describe_exception(exc)).split())
                if not _caused_by(exc, unreachable):
                    _mark_failed(conn, row, error, broker)
                    done.failed += 1
                    continue
                conn.execute(
                    update(TABLE)
                    .where(TABLE.c.id == row.id)
                    .values(attempts=row.attempts + 1, last_error=error[:ERROR_LENGTH])
                )
                done.error = error
                logger.warning(
                    "Outbox: task %r (%s) not relayed, the broker %s cannot be reached (%s); "
                    "it stays in the outbox with %d waiting after it, attempt %d",
                    row.task, row.task_id, broker, error,
                    len(rows) - len(relayed) - done.failed - 1, row.attempts + 1,
                )  # fmt: skip
                break
            relayed.append(row.id)
        if relayed:
            conn.execute(delete(TABLE).where(TABLE.c.id.in_(relayed)))
        done.sent = len(relayed)
    return done


def _connection_errors(celery: Celery) -> tuple[type[BaseException], ...]:
    """What a broker or result backend that cannot be reached raises."""
    errors: list[type[BaseException]] = [OperationalError, OSError]
    errors.extend(celery.connection_for_write().connection_errors)
    errors.extend(getattr(celery.backend, "connection_errors", ()) or ())
    return tuple(errors)


def _caused_by(exc: BaseException, errors: tuple[type[BaseException], ...]) -> bool:
    # Celery's Redis result backend gives up with a RuntimeError chained to the cause.
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, errors):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _mark_failed(conn: Connection, row: t.Any, error: str, broker: str) -> None:
    conn.execute(
        update(TABLE)
        .where(TABLE.c.id == row.id)
        .values(attempts=row.attempts + 1, last_error=error[:ERROR_LENGTH], failed_at=_now())
    )
    logger.error(
        "Outbox: task %r (%s) refused by the broker %s (%s); marked failed and kept in "
        "the outbox, later tasks go on. `<app> outbox status` counts it",
        row.task, row.task_id, broker, error,
    )  # fmt: skip


def _publish(celery: Celery, row: t.Any) -> None:
    body = json.loads(row.message)  # type: ignore[no-untyped-call]
    options = dict(body["options"])
    celery.send_task(row.task, body["args"], body["kwargs"], task_id=row.task_id, **options)


@dataclass
class OutboxStatus:
    """How many messages wait in the outbox, and the oldest."""

    waiting: int
    failed: int
    oldest: datetime.datetime | None
    #: The error of the last failed attempt of the oldest waiting message, if any.
    last_error: str | None


def outbox_status(engine: Engine) -> OutboxStatus:
    """Count the messages of the outbox."""
    with engine.connect() as conn:
        waiting, oldest = conn.execute(
            select(func.count(), func.min(TABLE.c.created_at)).where(TABLE.c.failed_at.is_(None))
        ).one()
        failed = conn.scalar(
            select(func.count()).select_from(TABLE).where(TABLE.c.failed_at.is_not(None))
        )
        last_error = conn.scalar(
            select(TABLE.c.last_error)
            .where(TABLE.c.failed_at.is_(None))
            .order_by(TABLE.c.id)
            .limit(1)
        )
    return OutboxStatus(int(waiting), int(failed or 0), oldest, last_error)


def require_outbox(flask_app: Flask) -> Engine:
    """The outbox's engine; a :class:`~appfactory.core.ConfigError` when its table is missing."""
    engine = database_engine(flask_app)
    try:
        exists = table_exists(engine)
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"The outbox's database {mask_url(str(engine.url))} cannot be reached "
            f"({mask_url(describe_exception(exc))}). Check that it runs and that the "
            "app's database URL is right."
        ) from exc
    if not exists:
        raise ConfigError(
            f"The outbox table {TABLE_NAME!r} does not exist in "
            f"{mask_url(str(engine.url))}. Create it: db.create_all(), or a migration."
        )
    return engine
