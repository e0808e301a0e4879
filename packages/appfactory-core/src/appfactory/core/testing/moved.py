"""What moved to appfactory.celery.testing in appfactory-core 0.2, kept working for
one release (until 0.3) with a :class:`DeprecationWarning` that names the new place.

Core never imports Celery, its plugin included: the moved names and fixtures
are looked up *by name*, at run time, the way ``EXTENSIONS`` are, and only
when a project uses them.

- ``from appfactory.core.testing import CeleryDefaultAppError`` (or ``Server``,
  ``forget_shared_tasks``): the module's ``__getattr__`` warns and returns the
  name of ``appfactory.celery.testing``.
- A ``conftest.py`` that names only ``appfactory.core.testing``, in an
  environment where appfactory-celery is installed: the Celery plugin is
  enabled for it, as before (fixtures and guard), and a test that asks for
  one of its fixtures gets the warning, saying which line to add.
"""

from __future__ import annotations

import importlib
import importlib.util
import typing as t
import warnings

import pytest

#: Where the Celery half of the plugin lives now.
CELERY_PLUGIN = "appfactory.celery.testing"

#: The fixtures a test asks for, warned about (not the guard, nor the settings fixtures).
WARNED_FIXTURES = (
    "celery_app",
    "celery_worker",
    "celery_session_app",
    "celery_session_worker",
    "depends_on_current_app",
    "redis_server",
    "rabbitmq_server",
)

#: Set on the config when this module enabled the Celery plugin.
enabled_key = pytest.StashKey[set[str]]()


def moved_name(name: str) -> t.Any:
    """The moved ``name``, from its new module, with a warning."""
    warnings.warn(
        f"appfactory.core.testing.{name} moved to {CELERY_PLUGIN}.{name} in appfactory-core "
        f"0.2; import it from there (this alias goes in 0.3).",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(CELERY_PLUGIN), name)


def _celery_plugin_enabled(config: pytest.Config) -> bool:
    manager = config.pluginmanager
    return any(
        manager.has_plugin(name) for name in (CELERY_PLUGIN, "celery.contrib.pytest", "celery")
    )


def _appfactory_celery_installed() -> bool:
    # The namespace package's spec, found without importing appfactory.celery (nor Celery).
    try:
        return importlib.util.find_spec("appfactory.celery") is not None
    except (ImportError, ValueError):
        return False


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Enable the Celery plugin for a project that names only this one, if installed."""
    if _celery_plugin_enabled(config) or not _appfactory_celery_installed():
        return
    if config.pluginmanager.is_blocked(CELERY_PLUGIN):
        return
    config.pluginmanager.import_plugin(CELERY_PLUGIN)
    config.stash[enabled_key] = set()


def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[t.Any], request: pytest.FixtureRequest
) -> None:
    """Warn, once per fixture, about a Celery fixture used through this plugin alone."""
    warned = request.config.stash.get(enabled_key, None)
    name = fixturedef.argname
    if warned is None or name in warned or name not in WARNED_FIXTURES:
        return
    module = getattr(fixturedef.func, "__module__", "") or ""
    if not module.startswith(CELERY_PLUGIN + "."):
        return
    warned.add(name)
    request.node.warn(
        DeprecationWarning(
            f"The {name} fixture moved to the pytest plugin {CELERY_PLUGIN} in appfactory-core "
            f"0.2: add it to pytest_plugins in your conftest.py, pytest_plugins = "
            f'["appfactory.core.testing", "{CELERY_PLUGIN}"] (until 0.3 it is enabled for '
            "you; -p no:appfactory.celery.testing keeps it off)."
        )
    )
