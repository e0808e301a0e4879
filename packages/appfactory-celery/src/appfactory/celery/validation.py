"""Celery settings that Celery itself refuses only when a task is sent.

``myapp check`` reports each finding (with the ids of
:data:`appfactory.celery.CHECKS`), and a send that fails on one of them names
it in one line (:mod:`appfactory.celery.sending`).
"""

from __future__ import annotations

import datetime
import difflib
import importlib.util
import numbers
import typing as t
from urllib.parse import urlsplit

from kombu.transport import TRANSPORT_ALIASES
from kombu.utils.imports import symbol_by_name

from appfactory.core import mask_url, masked_repr
from celery.app.backends import BACKEND_ALIASES
from celery.schedules import BaseSchedule

from .settings import CelerySettings, flask_name

#: ``(check id, fields of its templates)``.
Finding = tuple[str, dict[str, t.Any]]

#: The library a transport needs, and the Celery extra that installs it.
TRANSPORT_LIBRARIES = {
    "amqp": ("amqp", "amqp"),
    "amqps": ("amqp", "amqp"),
    "pyamqp": ("amqp", "amqp"),
    "librabbitmq": ("librabbitmq", "librabbitmq"),
    "redis": ("redis", "redis"),
    "rediss": ("redis", "redis"),
    "sentinel": ("redis", "redis"),
    "sqs": ("boto3", "sqs"),
    "SQS": ("boto3", "sqs"),
    "mongodb": ("pymongo", "mongodb"),
    "zookeeper": ("kazoo", "zookeeper"),
    "sqlalchemy": ("sqlalchemy", "sqlalchemy"),
    "sqla": ("sqlalchemy", "sqlalchemy"),
    "consul": ("consul", "consul"),
    "etcd": ("etcd", "etcd"),
    "confluentkafka": ("confluent_kafka", "confluentkafka"),
    "kafka": ("confluent_kafka", "confluentkafka"),
    "azurestoragequeues": ("azure.storage.queue", "azurestoragequeues"),
    "azureservicebus": ("azure.servicebus", "azureservicebus"),
    "gcpubsub": ("google.cloud.pubsub_v1", "gcpubsub"),
    "pgmq": ("psycopg", "pgmq"),
}
#: The library a result backend needs, where Celery imports it only when used.
BACKEND_LIBRARIES = {
    "db": "sqlalchemy",
    "database": "sqlalchemy",
    "mongodb": "pymongo",
    "cassandra": "cassandra",
    "elasticsearch": "elasticsearch",
    "couchbase": "couchbase",
    "couchdb": "pycouchdb",
    "dynamodb": "boto3",
    "s3": "boto3",
    "consul": "consul",
    "azureblockblob": "azure.storage.blob",
    "arangodb": "pyArango",
    "gs": "google.cloud.storage",
    "cosmosdbsql": "pydocumentdb",
    "riak": "riak",
}
#: The Celery extra of a result backend, where its name is not the scheme.
BACKEND_EXTRAS = {
    "db": "sqlalchemy",
    "database": "sqlalchemy",
    "rediss": "redis",
    "sentinel": "redis",
    "cache": "memcache",
    "gs": "gcs",
}
#: The keys of a beat schedule entry, and the type each value must have.
ENTRY_KEYS: dict[str, tuple[type, ...]] = {
    "task": (str,),
    "schedule": (numbers.Real, datetime.timedelta, BaseSchedule),
    "args": (list, tuple),
    "kwargs": (dict,),
    "options": (dict,),
    "relative": (bool,),
    "name": (str,),
}


def unusable_url(url: str, setting: str, *, broker: bool) -> str | None:
    """Why no client can use ``url`` (a raw password, one in the query), or ``None``.

    Such a URL is refused when the app is made: parsed anyway, a part of the
    password would be taken for the host or the port and shown in errors.
    """
    rest = url.partition("://")[2]
    userinfo = rest.rpartition("@")[0] if "@" in rest else ""
    raw = sorted({char for char in "/?#" if char in userinfo})
    if raw:
        chars = " and ".join(repr(char) for char in raw)
        return (
            f"{setting} = {mask_url(url)!r} has a password with a raw {chars}, which ends the "
            "URL's host part early, so no client can read it. Percent-encode the password: "
            "urllib.parse.quote(password, safe='') ('/' is %2F, '?' is %3F, '#' is %23)."
        )
    query = urlsplit(url).query if broker and not raw else ""
    if any(part.partition("=")[0].lower() == "password" for part in query.split("&")):
        return (
            f"{setting} = {mask_url(url)!r} has its password in the query string, which kombu "
            "cannot read for a broker. Put it before the host instead: "
            "redis://:PASSWORD@host:6379/0 (percent-encoded)."
        )
    return None


def settings_findings(settings: CelerySettings) -> list[Finding]:
    """What is wrong with the broker, result backend, timeouts and routes."""
    values, sources = settings.values, settings.sources
    findings: list[Finding] = []
    broker = values.get("broker_url")
    urls = broker if isinstance(broker, (list, tuple)) else str(broker or "").split(";")
    broker_setting = sources.get("broker_url", flask_name("broker_url"))
    for url in urls:
        if isinstance(url, str) and url.strip():
            findings.extend(_broker_findings(url.strip(), broker_setting))
    backend = values.get("result_backend")
    if isinstance(backend, str) and backend and backend != "disabled":
        setting = sources.get("result_backend", flask_name("result_backend"))
        findings.extend(_backend_findings(backend, setting))
    findings.extend(_timeout_findings(values, sources))
    findings.extend(_router_findings(values.get("task_routes"), sources))
    return findings


def _import(path: str) -> t.Any:
    """What ``path`` names ('module.Name' or 'module:name'), as Celery imports it."""
    return symbol_by_name(path)  # type: ignore[no-untyped-call]


def _scheme(url: str) -> str:
    return url.partition("://")[0] if "://" in url else url


def _port_finding(url: str, setting: str) -> Finding | None:
    try:
        urlsplit(url).port  # noqa: B018 (read for the ValueError it raises)
    except ValueError:
        port = urlsplit(url).netloc.rpartition("@")[2].rpartition(":")[2]
        return (
            "AF310",
            {
                "setting": setting,
                "url": mask_url(url),
                "problem": f"has the port {port!r}, which is no port number",
                "advice": "Give a port from 1 to 65535, such as 6379 for Redis or 5672 "
                "for RabbitMQ, or leave it out for the default.",
            },
        )
    return None


def _broker_findings(url: str, setting: str) -> list[Finding]:
    transport = _scheme(url).partition("+")[0]
    found = _port_finding(url, setting)
    findings = [found] if found else []
    if transport in TRANSPORT_LIBRARIES:
        module, extra = TRANSPORT_LIBRARIES[transport]
        missing = _missing(module)
        if missing:
            findings.append(_library_finding(setting, url, missing, extra, "broker"))
    elif transport in TRANSPORT_ALIASES:
        try:
            _import(TRANSPORT_ALIASES[transport])
        except ImportError as exc:
            missing = exc.name or str(exc)
            findings.append(_library_finding(setting, url, missing, transport, "broker"))
    return findings


def _backend_findings(url: str, setting: str) -> list[Finding]:
    scheme = _scheme(url)
    alias = scheme.partition("+")[0]
    if alias not in BACKEND_ALIASES:
        if "." in scheme or ":" in scheme:
            return []  # a backend class of the user's own, by its import path
        close = difflib.get_close_matches(alias, sorted(BACKEND_ALIASES), n=1)
        advice = f"Did you mean {close[0]}://? " if close else ""
        known = ", ".join(sorted(BACKEND_ALIASES))
        return [
            (
                "AF310",
                {
                    "setting": setting,
                    "url": mask_url(url),
                    "problem": f"has the unknown scheme {alias!r}",
                    "advice": f"{advice}Use one of Celery's result backends: {known}; or leave "
                    "it unset for the one that goes with the broker.",
                },
            )
        ]
    found = _port_finding(url, setting)
    findings = [found] if found else []
    extra = BACKEND_EXTRAS.get(alias, alias)
    missing = _missing(BACKEND_LIBRARIES[alias]) if alias in BACKEND_LIBRARIES else None
    if missing is None:
        try:
            _import(BACKEND_ALIASES[alias])
        except ImportError as exc:
            missing = exc.name or str(exc)
        except Exception as exc:  # Celery's ImproperlyConfigured: "requires SQLAlchemy"...
            missing = str(exc).rstrip(".")
    if missing is not None:
        findings.append(_library_finding(setting, url, missing, extra, "result backend"))
    return findings


def _missing(module: str) -> str | None:
    """The first part of ``module`` that cannot be found, or ``None``."""
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def _library_finding(setting: str, url: str, missing: str, extra: str, what: str) -> Finding:
    return (
        "AF311",
        {
            "setting": setting,
            "url": mask_url(url),
            "what": what,
            "missing": missing,
            "extra": extra,
        },
    )


def _timeout_findings(values: dict[str, t.Any], sources: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    for name, value in sorted(values.items()):
        if name.endswith("_timeout") and _negative(value):
            findings.append(("AF312", {"setting": sources.get(name, flask_name(name)),
                                       "value": repr(value)}))  # fmt: skip
        if name.endswith("transport_options") and isinstance(value, dict):
            setting = sources.get(name, flask_name(name))
            for key, item in sorted(value.items(), key=lambda kv: str(kv[0])):
                if str(key).endswith("timeout") and _negative(item):
                    findings.append(("AF312", {"setting": f"{setting}[{key!r}]",
                                               "value": repr(item)}))  # fmt: skip
    return findings


def _negative(value: t.Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value < 0


def _router_findings(routes: t.Any, sources: dict[str, str]) -> list[Finding]:
    if routes is None:
        return []
    setting = sources.get("task_routes", flask_name("task_routes"))
    items = routes if isinstance(routes, (list, tuple)) else [routes]
    findings: list[Finding] = []
    for item in items:
        if isinstance(item, dict) or (callable(item) and not isinstance(item, str)):
            continue
        if isinstance(item, str):
            try:
                _import(item)
                continue
            except Exception as exc:
                problem = f"router {item!r} cannot be imported ({type(exc).__name__}: {exc})"
        else:
            problem = f"holds {masked_repr(setting, item)}, which is no router"
        findings.append(("AF313", {"setting": setting, "problem": problem}))
    return findings


def schedule_findings(settings: CelerySettings) -> list[Finding]:
    """What is wrong with the shape of ``beat_schedule``."""
    schedule = settings.values.get("beat_schedule")
    setting = settings.sources.get("beat_schedule", flask_name("beat_schedule"))
    if schedule is None:
        return []
    if not isinstance(schedule, dict):
        return [_schedule_finding(setting, f"is of type {type(schedule).__name__}, not a dict")]
    findings: list[Finding] = []
    for entry, options in schedule.items():
        where = f"{setting}[{entry!r}]"
        found = (
            _entry_problem(options)
            if isinstance(options, dict)
            else f"is of type {type(options).__name__}, not a dict"
        )
        if found:
            findings.append(_schedule_finding(where, found))
    return findings


def _entry_problem(options: dict[t.Any, t.Any]) -> str | None:
    missing = [key for key in ("task", "schedule") if key not in options]
    if missing:
        return f"has no {' and no '.join(repr(key) for key in missing)}"
    for key, value in options.items():
        types = ENTRY_KEYS.get(key)
        if types is None:
            close = difflib.get_close_matches(str(key), sorted(ENTRY_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"has the unknown key {key!r}{hint}"
        if not isinstance(value, types) or (key == "schedule" and isinstance(value, bool)):
            kinds = " or ".join(kind.__name__ for kind in types)
            return f"has {key!r} of type {type(value).__name__}, not {kinds}"
    return None


def _schedule_finding(where: str, problem: str) -> Finding:
    return ("AF314", {"where": where, "problem": problem})
