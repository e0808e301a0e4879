"""The settings of tasks sent on commit and of the outbox, and the session they follow.

By default the session is Flask-SQLAlchemy's ``db.session``, found in
``app.extensions["sqlalchemy"]``; ``TASKS_SESSION`` names another one. This
module imports no SQLAlchemy: a web process that never sends on commit does
not pay for it.
"""

from __future__ import annotations

import functools
import importlib
import typing as t
from dataclasses import dataclass

from flask import Flask
from flask.globals import _cv_app

from appfactory.core import ConfigError, Option, declare_settings, option_table

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

SESSION = "TASKS_SESSION"
OUTBOX = "TASKS_OUTBOX"
RELAY_INTERVAL = "TASKS_OUTBOX_RELAY_INTERVAL"

#: The settings, with their defaults (documented in docs/reference/configuration.rst).
OPTIONS = option_table(
    [
        Option(SESSION, None, doc="The session tasks follow (None: Flask-SQLAlchemy's)."),
        Option(OUTBOX, False, doc="Write tasks sent on commit to the outbox table."),
        Option(RELAY_INTERVAL, 1.0, doc="Seconds between two relays of a worker (0: none)."),
    ]
)

#: Where ``TASKS_SESSION`` is ``None``: Flask-SQLAlchemy's extension key.
FLASK_SQLALCHEMY = "sqlalchemy"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def declare(flask_app: Flask, owner: str) -> None:
    """Declare the settings (defaults and types) for ``flask_app``, as ``owner`` gives them."""
    declare_settings(flask_app, OPTIONS, owner=owner)


def outbox_enabled(flask_app: Flask) -> bool:
    """Whether ``TASKS_OUTBOX`` is on (``"false"`` from the environment is off)."""
    value = flask_app.config.get(OUTBOX, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(
        f"{OUTBOX} must be true or false, not {value!r}. Set it to True to keep tasks in "
        "the outbox table until they reach the broker, or False."
    )


def relay_interval(flask_app: Flask) -> float:
    """Seconds between two relay passes of a worker; 0 means workers do not relay."""
    value = flask_app.config.get(RELAY_INTERVAL, OPTIONS[RELAY_INTERVAL].default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds < 0 or isinstance(value, bool):
        raise ConfigError(
            f"{RELAY_INTERVAL} must be a number of seconds (0 or more), not {value!r}; "
            "0 leaves relaying to `<app> outbox relay`."
        )
    return seconds


@dataclass(frozen=True)
class SessionSource:
    """Where the session of an app comes from: a scoped session, or a plain one."""

    #: A ``scoped_session`` (Flask-SQLAlchemy's ``db.session`` is one) or a ``Session``.
    target: t.Any
    #: What to name in messages: the setting, or Flask-SQLAlchemy.
    described: str
    #: Flask-SQLAlchemy's session is scoped to the app context of its own app.
    needs_app_context: bool


def session_source(flask_app: Flask) -> SessionSource:
    """The source of the session that on-commit sends and the outbox follow.

    Raises :class:`~appfactory.core.ConfigError` when there is none.
    """
    named = flask_app.config.get(SESSION)
    if named is None:
        extension = flask_app.extensions.get(FLASK_SQLALCHEMY)
        if extension is None:
            raise ConfigError(
                f"Tasks sent on commit follow a SQLAlchemy session, but app {flask_app.name!r} "
                "has no Flask-SQLAlchemy (app.extensions['sqlalchemy']) and "
                f"{SESSION} is not set. Set up Flask-SQLAlchemy in EXTENSIONS, or set "
                f"{SESSION} to the import path of your scoped session, such as "
                "'myapp.database:Session'."
            )
        return SessionSource(extension.session, "Flask-SQLAlchemy's db.session", True)
    target = _import(named) if isinstance(named, str) else named
    return SessionSource(_checked(target, named), f"{SESSION}={named!r}", False)


def current_session(flask_app: Flask, source: SessionSource | None = None) -> Session | None:
    """The session of ``flask_app`` in use here, ``None`` when there is none yet.

    A scoped session that has no session in this scope has no transaction
    open, and none is created just to find out.
    """
    source = source or session_source(flask_app)
    target = source.target
    if source.needs_app_context:
        active = _cv_app.get(None)
        if active is None or active.app is not flask_app:
            return None
    registry = getattr(target, "registry", None)
    if registry is not None:
        return t.cast("Session", target()) if registry.has() else None
    return t.cast("Session", target)


@functools.lru_cache(maxsize=32)
def _import(path: str) -> t.Any:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"{SESSION}={path!r} is not an import path of the form 'package.module:name'; "
            "name the scoped session (or session) of your app, such as "
            "'myapp.database:Session'."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{SESSION}={path!r}: module {module_name!r} cannot be imported ({exc}). Fix "
            "the path, or install the module."
        ) from exc
    try:
        return functools.reduce(getattr, attribute.split("."), module)
    except AttributeError as exc:
        raise ConfigError(
            f"{SESSION}={path!r}: module {module_name!r} has no {attribute!r}. Fix the path."
        ) from exc


def _checked(target: t.Any, named: t.Any) -> t.Any:
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    if isinstance(target, (Session, scoped_session)):
        return target
    if isinstance(target, sessionmaker):
        problem = "a sessionmaker, which makes a new session at each call"
    else:
        problem = f"a {type(target).__name__}"
    raise ConfigError(
        f"{SESSION}={named!r} is {problem}, not the session your code writes with. Name "
        "a scoped_session (or a Session) instead."
    )
