"""Which Flask settings are Celery's, under Celery's own names.

A Flask setting reaches Celery when it is ``CELERY_<NAME>`` for one of Celery's
settings (Celery's ``CELERY`` namespace: ``CELERY_BROKER_URL`` is
``broker_url``), or one of Celery's old upper-case names that starts with
``CELERY`` or ``BROKER_`` (``BROKER_URL``, ``CELERY_ALWAYS_EAGER``,
``CELERYD_CONCURRENCY``). Both tables come from ``celery.app.defaults``.
"""

from __future__ import annotations

import difflib
import functools
import typing as t
import warnings
from dataclasses import dataclass, field

from flask import Flask

from appfactory.core import (
    AppFactoryWarning,
    ConfigError,
    Option,
    OptionTable,
    convert_setting,
    get_registry,
    masked_repr,
    option_table,
)
from celery.app import defaults

NAMESPACE = "CELERY_"
#: Flask's documented setting for Celery: a dict of Celery's lower-case settings.
DICT_KEY = "CELERY"
_OLD_PREFIXES = ("CELERY", "BROKER_")
#: The option types whose text is converted, with what a valid value looks like.
_EXPECTED = {
    "bool": "true or false (also yes/no, on/off, 1/0)",
    "int": "a whole number such as 4",
    "float": "a number such as 2.5",
}

#: Defaults that lose no task and trust no message, in Celery's names.
SAFE_DEFAULTS: dict[str, t.Any] = {
    "task_serializer": "json",
    "result_serializer": "json",
    "event_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": ["json"],
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "broker_connection_retry_on_startup": True,
    # Celery's consumer, but one that survives a restart of its Redis broker
    # (appfactory.celery.worker says why); imported by workers only.
    "worker_consumer": "appfactory.celery.worker:Consumer",
    # A send to a broker that is down waits a bounded time, then fails: at most
    # 4 s per connection attempt, 5 attempts, 2.5 s of pauses between them.
    "broker_connection_timeout": 4.0,
    "task_publish_retry_policy": {
        "max_retries": 4,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1.0,
    },
    # The same bound for a Redis result backend, which is reached before the
    # message is sent (Celery's own policy retries for 20 s).
    "redis_socket_connect_timeout": 4.0,
    "result_backend_transport_options": {
        "retry_policy": {
            "max_retries": 4,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1.0,
        }
    },
}


@functools.cache
def flask_to_celery() -> dict[str, str]:
    """``{Flask setting: Celery setting}`` for every name that reaches Celery."""
    old = {key: name for key, name in defaults._TO_NEW_KEY.items() if key.startswith(_OLD_PREFIXES)}
    new = {flask_name(name): name for name in defaults.SETTING_KEYS}
    return {**old, **new}


@functools.cache
def celery_options() -> OptionTable:
    """Every Flask setting that reaches Celery, declared by name (Celery types them)."""
    return option_table(Option(key) for key in flask_to_celery())


def flask_name(celery_setting: str) -> str:
    """The Flask setting of a Celery setting in the ``CELERY`` namespace.

    >>> flask_name("broker_url")
    'CELERY_BROKER_URL'
    """
    return NAMESPACE + celery_setting.upper()


def looks_like_celery(key: str) -> bool:
    """Whether a Flask setting's name claims to be a Celery setting."""
    return key.startswith(_OLD_PREFIXES)


@dataclass
class CelerySettings:
    """The Celery settings of a Flask app, under Celery's names."""

    values: dict[str, t.Any] = field(default_factory=dict)
    #: Celery setting -> the Flask setting it came from.
    sources: dict[str, str] = field(default_factory=dict)
    #: ``(Flask setting, closest valid name or None)`` of unknown Celery-like names.
    unknown: list[tuple[str, str | None]] = field(default_factory=list)


def collect(app: Flask, *, celery_dict: bool = True) -> CelerySettings:
    """Read the Celery settings from ``app.config``.

    With ``celery_dict``, the entries of Flask's documented ``CELERY = {...}``
    dict (Celery's lower-case names) are read too, their source being
    ``CELERY['name']``. Raises :class:`~appfactory.core.ConfigError` when two
    names set the same Celery setting, or a value cannot be read as the
    setting's type.
    """
    history = get_registry(app).history
    mapping = flask_to_celery()
    found = CelerySettings()
    origins: dict[str, str] = {}
    if celery_dict:
        for setting, value in read_celery_dict(app).items():
            source = f"{DICT_KEY}[{setting!r}]"
            found.sources[setting] = source
            origins[source] = str(history.origin(DICT_KEY))
            found.values[setting] = _convert(setting, source, value, origins[source])
    for key in sorted(app.config):
        if not looks_like_celery(key) or key == DICT_KEY:
            continue
        name = mapping.get(key)
        if name is None:
            close = difflib.get_close_matches(key, sorted(mapping), n=1, cutoff=0.7)
            found.unknown.append((key, close[0] if close else None))
            continue
        if name in found.sources:
            other = found.sources[name]
            where = origins.get(other) or history.origin(other)
            raise ConfigError(
                f"{other} ({where}) and {key} ({history.origin(key)}) both "
                f"set Celery's {name}; old and new names cannot be mixed for one "
                f"setting. Keep one of them, preferably {flask_name(name)}."
            )
        found.sources[name] = key
        value = _convert(name, key, app.config[key], str(history.origin(key)))
        if value is not app.config[key]:
            # Flask-side code reads the same value as Celery ("false" -> False).
            convert_setting(app, key, value)
        found.values[name] = value
    return found


def read_celery_dict(app: Flask) -> dict[str, t.Any]:
    """``{Celery setting: value}`` of the app's ``CELERY`` dict (Flask's documented way).

    Raises :class:`~appfactory.core.ConfigError` when ``CELERY`` is not a dict
    or holds a name that is not one of Celery's lower-case settings.
    """
    value = app.config.get(DICT_KEY)
    if value is None:
        return {}
    origin = get_registry(app).history.origin(DICT_KEY)
    example = "{'broker_url': 'redis://127.0.0.1:6379/0'}"
    if not isinstance(value, dict):
        raise ConfigError(
            f"{DICT_KEY} ({origin}) is of type {type(value).__name__}; give a dict of Celery's "
            f"lower-case settings such as {DICT_KEY} = {example}, or set CELERY_BROKER_URL "
            "and the other CELERY_* settings instead."
        )
    for name in value:
        if name not in defaults.SETTING_KEYS:
            names = sorted(defaults.SETTING_KEYS)
            close = difflib.get_close_matches(str(name).lower(), names, n=1, cutoff=0.7)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{DICT_KEY}[{name!r}] ({origin}) is not a Celery setting. {hint}Give Celery's "
                f"lower-case names, such as {DICT_KEY} = {example}, or the CELERY_* settings "
                "(CELERY_BROKER_URL)."
            )
    return dict(value)


def _convert(name: str, key: str, value: t.Any, origin: str) -> t.Any:
    option = defaults._OPTIONS.get(name)
    if option is not None and option.type in ("list", "tuple") and isinstance(value, str):
        # "json" is one content type, not four letters; "json,pickle" two.
        items = [item.strip() for item in value.split(",") if item.strip()]
        return items if option.type == "list" else tuple(items)
    if option is None or option.type not in _EXPECTED or not isinstance(value, str):
        return value
    try:
        return option.to_python(value)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"{key}={masked_repr(key, value)} ({origin}) is not a valid {option.type} for "
            f"Celery's {name}; give {_EXPECTED[option.type]}."
        ) from exc


def warn_unknown(found: CelerySettings) -> None:
    """Warn about names that look like Celery's but are not."""
    for key, close in found.unknown:
        hint = f" Did you mean {close}?" if close else ""
        warnings.warn(
            f"{key} looks like a Celery setting but Celery has no such setting; it is "
            f"not passed to Celery.{hint}",
            AppFactoryWarning,
            stacklevel=4,
        )


def check_serializers(found: CelerySettings) -> None:
    """Refuse a serializer that the accepted content types do not allow.

    Workers decode tasks with ``accept_content``; callers decode results with
    ``result_accept_content``, or ``accept_content`` when that is unset.
    """
    accepted = set(found.values.get("accept_content") or ())
    serializer = found.values.get("task_serializer")
    if serializer and accepted and serializer not in accepted:
        raise ConfigError(
            f"{found.sources['task_serializer']} is {serializer!r}, but CELERY_ACCEPT_CONTENT "
            f"allows only {sorted(accepted)!r}, so workers would reject every message. To opt "
            f"in, set CELERY_ACCEPT_CONTENT = {sorted(accepted | {serializer})!r} (and "
            "CELERY_RESULT_ACCEPT_CONTENT likewise)."
        )
    results = found.values.get("result_accept_content")
    setting = "CELERY_RESULT_ACCEPT_CONTENT" if results else "CELERY_ACCEPT_CONTENT"
    accepted = set(results) if results else accepted
    serializer = found.values.get("result_serializer")
    if serializer and accepted and serializer not in accepted:
        raise ConfigError(
            f"{found.sources['result_serializer']} is {serializer!r}, but {setting} allows "
            f"only {sorted(accepted)!r}, so callers could not read any result. To opt in, "
            f"set {setting} = {sorted(accepted | {serializer})!r}."
        )
