"""Loading the entries of ``EXTENSIONS``."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import typing as t
import warnings

from flask import Flask

from .errors import ExtensionError
from .packages import describe_import_error, string_list
from .provenance import Layer, Origin
from .registry import Registry

_MISSING = object()

#: Entry-point group mapping an ``EXTENSIONS`` entry to the entry that replaces it.
ALIAS_GROUP = "appfactory.extension_aliases"


@functools.cache
def extension_aliases() -> dict[str, str]:
    """``{entry: replacement}`` advertised by installed distributions, read once.

    appfactory-celery, for instance, replaces the original tutorial's
    ``"flask_celeryext:FlaskCeleryExt"`` by ``"appfactory.celery"`` so that each
    Flask app gets its own Celery app.
    """
    found = sorted(importlib.metadata.entry_points(group=ALIAS_GROUP), key=lambda ep: ep.value)
    return {ep.name: ep.value for ep in found}


#: Entries of Flask-AppFactory whose work appfactory does itself: accepted, with a
#: DeprecationWarning, and skipped (until appfactory-core 0.3).
RETIRED_ENTRIES = {
    "flask_appfactory.ext.jinja2": (
        "templates are looked up in PACKAGES order and JINJA2_EXTENSIONS are added without it"
    ),
}


def load_extensions(app: Flask, registry: Registry) -> None:
    """Set up every extension in ``EXTENSIONS`` order.

    ``"module"`` calls ``module.setup_app(app)``; ``"module:Name"`` calls
    ``Name(app)``. Settings and commands an extension adds are recorded with
    the extension as their origin.
    """
    for listed in string_list(app.config.get("EXTENSIONS"), "EXTENSIONS"):
        if listed in RETIRED_ENTRIES:
            warnings.warn(
                f"EXTENSIONS entry {listed!r} does nothing in appfactory: "
                f"{RETIRED_ENTRIES[listed]}. Remove it from EXTENSIONS; it will be "
                "refused in appfactory-core 0.3.",
                DeprecationWarning,
                stacklevel=2,
            )
            continue
        entry = extension_aliases().get(listed, listed)
        if entry in registry.extensions:
            continue
        setup = _setup_callable(entry)
        before = dict(app.config)
        commands_before = set(app.cli.commands)
        registry.current_extension = entry
        try:
            setup(app)
        except (Exception, SystemExit) as exc:
            raise ExtensionError(
                f"Extension {entry!r} in EXTENSIONS failed while setting up the app: "
                f"{describe_import_error(exc).rstrip('.')}. Fix the extension or its settings."
            ) from exc
        finally:
            registry.current_extension = None
        for key, value in app.config.items():
            if before.get(key, _MISSING) is not value:
                recorded = registry.history.history(key)
                if not recorded or recorded[-1].value is not value:
                    registry.history.record(key, value, Origin(Layer.EXTENSION, entry))
                registry.declared_settings.add(key)
        registry.extension_commands[entry] = sorted(set(app.cli.commands) - commands_before)
        registry.extensions.append(entry)


def _setup_callable(entry: str) -> t.Callable[[Flask], t.Any]:
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise ExtensionError(
                f"Extension {entry!r} in EXTENSIONS cannot be imported: module "
                f"{module_name!r} is not installed. Install it or remove it from EXTENSIONS."
            ) from exc
        raise _broken(entry, exc) from exc
    except (Exception, SystemExit) as exc:
        raise _broken(entry, exc) from exc
    name = attr or "setup_app"
    target = getattr(module, name, None)
    if not callable(target):
        form = f"{module_name}:{attr}" if attr else f"{module_name}.setup_app(app)"
        raise ExtensionError(
            f"Extension {entry!r} in EXTENSIONS has no callable {form}; define "
            f"setup_app(app) in {module_name!r}, or name a class as 'module:Class'."
        )
    return t.cast(t.Callable[[Flask], t.Any], target)


def _broken(entry: str, exc: BaseException) -> ExtensionError:
    return ExtensionError(
        f"Extension {entry!r} in EXTENSIONS failed to import: {describe_import_error(exc)}. "
        "Fix the error in the extension's module."
    )
