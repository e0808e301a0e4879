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
``import_path``, ``make_package``, ``read_only_folder``; and, in every test,
``no_leaked_context``. The Celery fixtures are appfactory-celery's plugin,
``appfactory.celery.testing``.
"""

from __future__ import annotations

import typing as t

from ..environ import env_prefix
from .apps import SECRET_KEY, AppCliRunner, discover_app_name, isolated_environment
from .servers import unavailable

#: The modules that hold the fixtures and hooks, registered with this one.
pytest_plugins = [
    "appfactory.core.testing.guards",
    "appfactory.core.testing.apps",
    "appfactory.core.testing.folders",
    "appfactory.core.testing.packages",
    "appfactory.core.testing.moved",
]

__all__ = [
    "SECRET_KEY",
    "AppCliRunner",
    "discover_app_name",
    "env_prefix",
    "isolated_environment",
    "unavailable",
]


#: Names that moved to appfactory.celery.testing: deprecated aliases (see .moved).
_MOVED = ("CeleryDefaultAppError", "Server", "forget_shared_tasks")


def __getattr__(name: str) -> t.Any:
    if name in _MOVED:
        from .moved import moved_name

        return moved_name(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
