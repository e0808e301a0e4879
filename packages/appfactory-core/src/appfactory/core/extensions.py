"""Loading the entries of ``EXTENSIONS``."""

from __future__ import annotations

import importlib
import typing as t

from flask import Flask

from .errors import ExtensionError, describe_exception
from .packages import string_list
from .provenance import Layer, Origin
from .registry import Registry

_MISSING = object()


def load_extensions(app: Flask, registry: Registry) -> None:
    """Set up every extension in ``EXTENSIONS`` order.

    ``"module"`` calls ``module.setup_app(app)``; ``"module:Name"`` calls
    ``Name(app)``. Settings and commands an extension adds are recorded with
    the extension as their origin.
    """
    for entry in string_list(app.config.get("EXTENSIONS"), "EXTENSIONS"):
        setup = _setup_callable(entry)
        before = dict(app.config)
        commands_before = set(app.cli.commands)
        try:
            setup(app)
        except Exception as exc:
            raise ExtensionError(
                f"Extension {entry!r} in EXTENSIONS failed while setting up the app: "
                f"{describe_exception(exc)}. Fix the extension or its settings."
            ) from exc
        for key, value in app.config.items():
            if before.get(key, _MISSING) is not value:
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
    except Exception as exc:
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
        f"Extension {entry!r} in EXTENSIONS failed to import: {describe_exception(exc)}. "
        "Fix the error in the extension's module."
    )
