"""Why a task was not sent, told with an appfactory error.

Only failures of sending are explained: an exception raised by the task
itself, when it runs eagerly inside ``apply_async``, passes through as it is.
"""

from __future__ import annotations

import typing as t

from amqp.exceptions import AccessRefused, NotAllowed  # type: ignore[import-untyped]
from flask import Flask
from kombu import serialization
from kombu.exceptions import EncodeError, OperationalError

from appfactory.core import AppFactoryError, ConfigError, describe_exception, mask_url
from celery import Task
from celery.exceptions import ImproperlyConfigured

from .broker import describe_broker
from .errors import BrokerUnavailableError, TaskArgumentError
from .state import get_state
from .storepaths import StoreError

_APPLY = Task.apply.__code__
#: How deep into nested arguments the culprit of an encoding error is looked for.
_MAX_DEPTH = 20


def send_error(
    task: Task,
    exc: BaseException,
    args: t.Any,
    kwargs: t.Any,
    options: dict[str, t.Any],
    seconds: float,
) -> AppFactoryError | None:
    """The error to raise instead of ``exc``, or ``None`` to let ``exc`` through."""
    if isinstance(exc, AppFactoryError) or _ran_the_task(exc):
        return None
    if isinstance(exc, EncodeError):
        return TaskArgumentError(_encode_message(task, exc, args, kwargs, options))
    store_error = _store_error(exc)
    if store_error is not None:
        return BrokerUnavailableError(f"Task {task.name!r} was not sent: {store_error}")
    if isinstance(exc, OperationalError):
        return BrokerUnavailableError(_unreachable_message(task, exc, "broker", seconds))
    if isinstance(exc, (AccessRefused, NotAllowed)):
        return BrokerUnavailableError(_refused_message(task, exc))
    if isinstance(exc, (ValueError, TypeError, ImportError, ImproperlyConfigured)):
        return _setting_error(task, exc)
    if isinstance(exc, RuntimeError) and _is_connection_error(task, exc.__cause__):
        # Celery's redis result backend, subscribing to the result before the
        # message is sent, gives up with a RuntimeError chained to the cause.
        return BrokerUnavailableError(
            _unreachable_message(task, t.cast(BaseException, exc.__cause__), "backend", seconds)
        )
    return None


def _store_error(exc: BaseException | None) -> StoreError | None:
    """The embedded store's error behind ``exc`` (kombu wraps it), if any."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, StoreError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def chained_cause(error: AppFactoryError, exc: BaseException) -> BaseException:
    """What ``error`` is chained to: the connection error itself for a result backend."""
    if isinstance(error, BrokerUnavailableError) and not isinstance(exc, OperationalError):
        return t.cast(BaseException, exc.__cause__)
    return exc


def _ran_the_task(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code is _APPLY:
            return True
        traceback = traceback.tb_next
    return False


def _is_connection_error(task: Task, cause: BaseException | None) -> bool:
    if cause is None:
        return False
    errors = getattr(task.app.backend, "connection_errors", ()) or ()
    return isinstance(cause, (OSError, *errors))


def _setting(task: Task, name: str, default: str) -> str:
    """The Flask setting that gave Celery's ``name`` (``BROKER_URL``, for instance)."""
    flask_app = getattr(task.app, "flask_app", None)
    state = get_state(flask_app) if isinstance(flask_app, Flask) else None
    return state.settings.sources.get(name, default) if state is not None else default


def _setting_error(task: Task, exc: BaseException) -> ConfigError | None:
    """The error naming the setting that made a send fail, if ``check`` finds one."""
    from .check_table import CHECKS
    from .validation import settings_findings

    flask_app = getattr(task.app, "flask_app", None)
    state = get_state(flask_app) if isinstance(flask_app, Flask) else None
    findings = settings_findings(state.settings) if state is not None else []
    if not findings:
        return None
    check_id, fields = findings[0]
    problem = CHECKS[check_id].problem(**fields)
    described = mask_url(describe_exception(exc))
    said = "" if described.rstrip(".") in problem.message else f" ({described})"
    return ConfigError(
        f"Task {task.name!r} was not sent{said}: {problem.message} {problem.hint} "
        f"('check' reports it as {problem.id}.)"
    )


def _refused_message(task: Task, exc: BaseException) -> str:
    broker = describe_broker(task.app.conf.broker_url)
    setting = _setting(task, "broker_url", "CELERY_BROKER_URL")
    return (
        f"Task {task.name!r} was not sent: the broker {broker} refused the connection "
        f"({mask_url(describe_exception(exc))}). Check the user name, the password and the "
        f"virtual host (the URL's path, '//' for the default one) in {setting}."
    )


def _unreachable_message(task: Task, exc: BaseException, side: str, seconds: float) -> str:
    conf = task.app.conf
    broker = describe_broker(conf.broker_url)
    broker_setting = _setting(task, "broker_url", "CELERY_BROKER_URL")
    if side == "broker":
        what, setting = f"the broker {broker}", broker_setting
    else:
        backend = mask_url(str(conf.result_backend))
        if backend == broker:
            what, setting = f"the broker {broker} (also the result backend)", broker_setting
        else:
            setting = _setting(task, "result_backend", "CELERY_RESULT_BACKEND")
            what = f"the result backend {backend}"
    return (
        f"Task {task.name!r} was not sent: {what} cannot be reached "
        f"({mask_url(describe_exception(exc))}); gave up after {seconds:.1f} s of retries. "
        f"Check that it runs and that {setting} (host, port, password) is right."
    )


def _encode_message(
    task: Task, exc: EncodeError, args: t.Any, kwargs: t.Any, options: dict[str, t.Any]
) -> str:
    serializer = options.get("serializer") or task.serializer or task.app.conf.task_serializer
    found = None
    for path, value in [
        *((f"args[{i}]", v) for i, v in enumerate(args or ())),
        *((f"kwargs[{k!r}]", v) for k, v in (kwargs or {}).items()),
    ]:
        found = _culprit(value, path, serializer, _MAX_DEPTH)
        if found is not None:
            break
    where = f"argument {found[0]} is of type {type(found[1]).__name__}" if found else "an argument"
    return (
        f"Task {task.name!r} was not sent: {where}, which the {serializer!r} serializer "
        f"cannot carry ({describe_exception(exc)}). Pass plain data instead (str, int, "
        "float, bool, None, lists and dicts of them), such as the id of an object rather "
        "than the object."
    )


def _culprit(value: t.Any, path: str, serializer: str, depth: int) -> tuple[str, t.Any] | None:
    """The innermost part of ``value`` that ``serializer`` cannot encode, with its path."""
    try:
        serialization.dumps(value, serializer)  # type: ignore[no-untyped-call]
        return None
    except Exception:
        pass
    if depth > 0:
        if isinstance(value, dict):
            items: t.Iterable[tuple[str, t.Any]] = ((f"[{k!r}]", v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            items = ((f"[{i}]", v) for i, v in enumerate(value))
        else:
            items = ()
        for suffix, item in items:
            found = _culprit(item, path + suffix, serializer, depth - 1)
            if found is not None:
                return found
    return path, value


def send_refusal(
    task: Task, args: t.Any, kwargs: t.Any, options: dict[str, t.Any]
) -> AppFactoryError | None:
    """Why a task must not go out, found before it is sent, or ``None``.

    A serializer the workers do not accept (they would drop the message, and
    the caller would wait for a result that never comes), and, with JSON, a
    dict argument whose keys are not strings (it would arrive with string keys).
    """
    serializer = options.get("serializer") or task.serializer
    if serializer != "json":
        refused = _serializer_refusal(task, serializer)
        if refused is not None:
            return refused
    if serializer == "json" and (args or kwargs):
        found = _non_string_key(args, "args", _MAX_DEPTH)
        if found is None and isinstance(kwargs, dict):
            found = _non_string_key(kwargs, "kwargs", _MAX_DEPTH)
        if found is not None:
            path, key = found
            return TaskArgumentError(
                f"Task {task.name!r} was not sent: argument {path} is a dict with the key "
                f"{key!r} of type {type(key).__name__}, which JSON turns into the string "
                f"{_json_key(key)!r}, so the task would not find it. Use string keys "
                "(str(key)), or pass a list of [key, value] pairs."
            )
    return None


def _serializer_refusal(task: Task, serializer: t.Any) -> TaskArgumentError | None:
    conf = task.app.conf
    accepted = {_content_name(c) for c in conf.accept_content or ()}
    if not accepted or serializer in accepted:
        return None
    return TaskArgumentError(
        f"Task {task.name!r} was not sent: its serializer is {serializer!r}, but workers "
        f"accept only {sorted(accepted)!r} (CELERY_ACCEPT_CONTENT), so they would drop the "
        f"message and no result would ever come. Send it with serializer='json' (the "
        "default), or opt in with CELERY_ACCEPT_CONTENT on every worker and sender."
    )


def _content_name(content: str) -> str:
    """The serializer's name of a content type ('application/json' -> 'json')."""
    return str(serialization.registry.type_to_name.get(content, content))


def _json_key(key: t.Any) -> str:
    import json

    return t.cast(str, json.loads(json.dumps({key: 0})).popitem()[0])


def _non_string_key(value: t.Any, path: str, depth: int) -> tuple[str, t.Any] | None:
    """The first dict key in ``value`` that JSON would turn into a string, with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key is None or isinstance(key, (int, float)):
                # Keys JSON cannot carry at all are left to the encoder's error.
                return path, key
            if depth and isinstance(item, (dict, list, tuple)):
                found = _non_string_key(item, f"{path}[{key!r}]", depth - 1)
                if found is not None:
                    return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if depth and isinstance(item, (dict, list, tuple)):
                found = _non_string_key(item, f"{path}[{index}]", depth - 1)
                if found is not None:
                    return found
    return None
