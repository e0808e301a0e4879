"""A pytest plugin for apps and packages built with appfactory.

Enable it in the ``conftest.py`` at the root of your tests, and say which
app to test::

    pytest_plugins = ["appfactory.core.testing"]


    @pytest.fixture(scope="module")
    def create_app():
        return myapp.app.create_app

Installing appfactory-core enables nothing: the plugin is not registered
through an entry point, so pytest runs of other projects in the same
environment get none of its fixtures and none of its guards.

Fixtures: ``create_app``, ``app_name``, ``app_config``, ``instance_path``,
``app_environment``, ``app``, ``client``, ``cli``, ``cli_runner``,
``import_path``, ``make_package``, ``read_only_folder``, ``celery_config``, ``celery_broker``,
``celery_app``, ``celery_worker``, ``redis_server``, ``rabbitmq_server``;
and, in every test, ``no_leaked_context`` and ``isolated_celery_state``.
"""

from __future__ import annotations

from .apps import SECRET_KEY, AppCliRunner, discover_app_name, isolated_environment
from .guards import CeleryDefaultAppError
from .packages import forget_shared_tasks
from .servers import Server

#: The modules that hold the fixtures and hooks, registered with this one.
pytest_plugins = [
    "appfactory.core.testing.guards",
    "appfactory.core.testing.apps",
    "appfactory.core.testing.folders",
    "appfactory.core.testing.packages",
    "appfactory.core.testing.celery",
    "appfactory.core.testing.servers",
]

__all__ = [
    "SECRET_KEY",
    "AppCliRunner",
    "CeleryDefaultAppError",
    "Server",
    "discover_app_name",
    "forget_shared_tasks",
    "isolated_environment",
]
