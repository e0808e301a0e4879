"""A pytest plugin for the Celery side of apps built with appfactory.

Enable it next to appfactory-core's plugin, in the ``conftest.py`` at the
root of your tests::

    pytest_plugins = ["appfactory.core.testing", "appfactory.celery.testing"]

It gives Celery's own fixtures (those of ``celery.contrib.pytest``, with
the same names and scopes), bound to the Flask app under test: tasks run
in the app's context and see ``flask.current_app``. Like core's plugin, it
is enabled by no entry point; enabling it with ``celery.contrib.pytest``
stops the run with a message saying which to keep.

Fixtures: ``celery_config``, ``celery_parameters``, ``celery_worker_parameters``,
``celery_includes``, ``celery_class_tasks``, ``celery_worker_pool``,
``celery_enable_logging``, ``use_celery_app_trap``, ``celery_app``,
``celery_worker``, ``depends_on_current_app``, ``celery_session_app``,
``celery_session_worker``, ``celery_broker``, ``celery_session_broker``,
``redis_server``, ``rabbitmq_server``; and, in every test,
``isolated_celery_state``. Markers: ``celery(**settings)``, ``celery_broker(kind)``.
"""

from __future__ import annotations

from .guards import CeleryDefaultAppError
from .servers import Server
from .sharedtasks import forget_shared_tasks

#: The modules that hold the fixtures and hooks, registered with this one
#: (core's plugin first: the Celery fixtures use its ``app``).
pytest_plugins = [
    "appfactory.core.testing",
    "appfactory.celery.testing.guards",
    "appfactory.celery.testing.sharedtasks",
    "appfactory.celery.testing.fixtures",
    "appfactory.celery.testing.servers",
]

__all__ = ["CeleryDefaultAppError", "Server", "forget_shared_tasks"]
