"""The systems under test, as importable modules that child processes run.

* :mod:`.plain`: the floor, a plain Flask factory written by hand;
* :mod:`.ours`: the same app made by :func:`appfactory.core.appfactory`;
* :mod:`.invenio`: the same app made by invenio-base's ``create_app_factory``;
* :mod:`.plain_celery`, :mod:`.ours_celery`, :mod:`.peer_celery`: the Celery
  apps that the workers run (plain Celery, appfactory.celery, Flask-CeleryExt).

They read what to build from environment variables set by the harness, so that
``flask --app benchmarks.apps.plain:create_app`` and ``python -m
benchmarks.apps.ours`` work as a user's commands would. Every system uses the
same import name, ``benchapp`` (a package written next to the synthetic
packages), so Flask finds every app's root path the same cheap way.

This module imports nothing heavy: cold command-line runs import it.
"""

from __future__ import annotations

import os

#: The import name, app name and environment prefix (``BENCHAPP_``) of every system.
APP_NAME = "benchapp"
#: Not a secret: every system gets the same one, as a configured app would.
SECRET_KEY = "benchmarks-not-secret"


def configured_names() -> list[str]:
    """The packages of the app: the first ``BENCH_PACKAGES`` synthetic packages."""
    from benchmarks.synthetic import package_names

    return package_names(int(os.environ.get("BENCH_PACKAGES", "10")))


def uses_entry_points() -> bool:
    """Whether the packages are found through entry points (``BENCH_DISCOVERY``)."""
    return os.environ.get("BENCH_DISCOVERY", "explicit") == "entry_points"


def instance_path() -> str:
    """The instance folder of every system (``BENCHAPP_INSTANCE_PATH``)."""
    return os.environ["BENCHAPP_INSTANCE_PATH"]


def wants_celery() -> bool:
    """Whether the app has its Celery extension (``BENCH_CELERY=1``)."""
    return os.environ.get("BENCH_CELERY") == "1"
