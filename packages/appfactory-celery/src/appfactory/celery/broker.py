"""The broker and result backend: the embedded default, and backends that follow the broker.

With no broker configured, an app uses an embedded broker that needs no
server: kombu's filesystem transport in ``<instance>/celery/``, with results
stored beside it. A Redis broker keeps results in the same Redis, and a
RabbitMQ broker sends them back over RPC, unless a result backend is set.
"""

from __future__ import annotations

import contextlib
import os
import typing as t
from urllib.parse import urlsplit

from flask import Flask
from kombu.transport import TRANSPORT_ALIASES

from appfactory.core import ConfigError, mask_url

#: Seconds between two looks at the embedded broker's folder: a task sent to
#: an idle worker starts within about this long.
EMBEDDED_POLLING_INTERVAL = 0.1


def make_private_folder(folder: str) -> None:
    """Create ``folder`` and its missing parents, readable by their owner only (0o700)."""
    missing = []
    path = os.path.abspath(folder)
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode=0o700)


def embedded_folders(app: Flask) -> dict[str, str]:
    """The folders of the embedded broker and results under the instance folder."""
    root = os.path.join(app.instance_path, "celery")
    return {name: os.path.join(root, name) for name in ("queue", "processed", "control", "results")}


def embedded_settings(app: Flask) -> dict[str, t.Any]:
    """Celery settings of the embedded broker, creating its folders (mode 0o700)."""
    folders = embedded_folders(app)
    for folder in folders.values():
        make_private_folder(folder)
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": folders["queue"],
            "data_folder_out": folders["queue"],
            "control_folder": folders["control"],
            # Kept private under the instance folder rather than moved through
            # the system's temporary folder.
            "store_processed": True,
            "processed_folder": folders["processed"],
            "polling_interval": EMBEDDED_POLLING_INTERVAL,
        },
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
    if transport == "filesystem":
        results = embedded_folders(app)["results"]
        make_private_folder(results)
        return f"file://{results}"
    return None


def describe_broker(url: t.Any) -> str:
    """The broker URL fit for a log line (password masked)."""
    if isinstance(url, (list, tuple)):
        return ", ".join(mask_url(str(u)) for u in url)
    return mask_url(str(url))
