"""The broker and result backend: the embedded default, and backends that follow the broker.

With no broker configured, an app uses an embedded broker that needs no
server: the SQLite store ``<instance>/celery/store.sqlite3``
(:mod:`appfactory.celery.embedded`, URL scheme ``sqlite-embedded``), which
also keeps the results. A Redis broker keeps results in the same Redis, and a
RabbitMQ broker sends them back over RPC, unless a result backend is set.
kombu's ``filesystem://``, named explicitly, gets folders under
``<instance>/celery/`` and results stored beside them.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from urllib.parse import urlsplit

from flask import Flask
from kombu.transport import TRANSPORT_ALIASES

from appfactory.core import ConfigError, mask_url
from celery.app.backends import BACKEND_ALIASES

from .storepaths import SCHEME, STORE_NAME, StoreError, create, make_private_folder, url_for

# The embedded broker's scheme, known to kombu and Celery once appfactory.celery
# is imported (the modules themselves are imported on first use only).
TRANSPORT_ALIASES.setdefault(SCHEME, "appfactory.celery.embedded:Transport")
BACKEND_ALIASES.setdefault(SCHEME, "appfactory.celery.embedded_results:EmbeddedBackend")

#: Seconds between two looks at the filesystem transport's folder (when named).
FILESYSTEM_POLLING_INTERVAL = 0.1


def embedded_store(app: Flask) -> str:
    """The path of the embedded broker's store under the instance folder."""
    return os.path.join(app.instance_path, "celery", STORE_NAME)


def embedded_settings(app: Flask) -> dict[str, t.Any]:
    """Celery settings of the embedded broker, creating its store (0o700 folder, 0o600 file)."""
    path = embedded_store(app)
    # A store that cannot be made now (read-only folder, full disk) is not the
    # app's failure: sending, and the worker's connection, report it then.
    with contextlib.suppress(StoreError):
        create(path)
    return {"broker_url": url_for(path), "broker_transport_options": {}}


def filesystem_folders(app: Flask) -> dict[str, str]:
    """The folders of kombu's filesystem transport (when named) under the instance folder."""
    root = os.path.join(app.instance_path, "celery")
    return {name: os.path.join(root, name) for name in ("queue", "processed", "control", "results")}


def filesystem_options(app: Flask) -> dict[str, t.Any]:
    """Transport options of kombu's filesystem transport, creating its folders (0o700)."""
    folders = filesystem_folders(app)
    for folder in folders.values():
        make_private_folder(folder)
    return {
        "data_folder_in": folders["queue"],
        "data_folder_out": folders["queue"],
        "control_folder": folders["control"],
        # Kept private under the instance folder rather than moved through
        # the system's temporary folder.
        "store_processed": True,
        "processed_folder": folders["processed"],
        "polling_interval": FILESYSTEM_POLLING_INTERVAL,
    }


def broker_scheme(url: t.Any, source: str) -> str:
    """The transport scheme of a broker URL, checked against kombu's transports."""
    if isinstance(url, (list, tuple)):
        url = url[0] if url else ""
    if not isinstance(url, str) or not url:
        raise ConfigError(
            f"{source} must be a broker URL such as 'redis://127.0.0.1:6379/0', not {url!r}."
        )
    first = url.split(";")[0].strip()
    scheme = urlsplit(first).scheme if "://" in first else first
    transport = scheme.partition("+")[0]
    if transport not in TRANSPORT_ALIASES:
        known = ", ".join(sorted(k for k in TRANSPORT_ALIASES if k.isidentifier()))
        raise ConfigError(
            f"{source} = {mask_url(first)!r} has the unknown scheme {scheme!r}. Use one "
            f"of: {known} (for example redis://127.0.0.1:6379/0 or "
            "amqp://guest:guest@127.0.0.1:5672//), or leave it unset for the embedded broker."
        )
    return transport


def following_result_backend(app: Flask, transport: str, broker_url: t.Any) -> t.Any:
    """The result backend that goes with a broker when none is configured."""
    if transport in ("redis", "rediss"):
        return broker_url if isinstance(broker_url, str) else broker_url[0]
    if transport in ("amqp", "amqps", "pyamqp", "librabbitmq"):
        return "rpc://"
    if transport == SCHEME:
        return broker_url if isinstance(broker_url, str) else broker_url[0]
    if transport == "filesystem":
        results = filesystem_folders(app)["results"]
        make_private_folder(results)
        return f"file://{results}"
    return None


def describe_broker(url: t.Any) -> str:
    """The broker URL fit for a log line (password masked)."""
    if isinstance(url, (list, tuple)):
        return ", ".join(mask_url(str(u)) for u in url)
    return mask_url(str(url))
