"""The peer: the same app made by invenio-base's ``create_app_factory``.

Blueprints are given explicitly, or found through invenio-base's own entry
points (``invenio_base.blueprints``, which it scans at every app creation);
the defaults come from a config loader over the same packages, and the
packages' commands from an extension. ``python -m benchmarks.apps.invenio`` is
the app's command, made by invenio-base's ``create_cli``.
"""

from __future__ import annotations

import importlib
import os
import typing as t

import benchapp  # noqa: F401  (imported, so Flask finds the root path without a search)
from flask import Flask
from invenio_base.app import create_app_factory, create_cli

from benchmarks.apps import APP_NAME, SECRET_KEY, configured_names, instance_path
from benchmarks.apps import uses_entry_points as _uses_entry_points
from benchmarks.apps.plain import advertised
from benchmarks.synthetic import INVENIO_BLUEPRINTS_GROUP


def factory(
    names: list[str] | None = None, entry_points: bool | None = None, commands: bool = True
) -> t.Callable[..., Flask]:
    """invenio-base's app factory for the packages."""
    if entry_points is None:
        entry_points = _uses_entry_points()
    if names is None:
        names = advertised() if entry_points else configured_names()
    configs = [importlib.import_module(f"{name}.config") for name in reversed(names)]
    clis = [importlib.import_module(f"{name}.cli") for name in names] if commands else []

    def config_loader(app: Flask, **_: t.Any) -> None:
        for module in configs:
            app.config.from_object(module)
        app.config["SECRET_KEY"] = SECRET_KEY

    def add_commands(app: Flask) -> None:
        for module in clis:
            for command in module.commands:
                app.cli.add_command(command)

    instance = instance_path()
    options: dict[str, t.Any] = {
        "config_loader": config_loader,
        "extensions": [add_commands],
        "instance_path": instance,
        "static_folder": os.path.join(instance, "static"),
    }
    if entry_points:
        options["blueprint_entry_points"] = [INVENIO_BLUEPRINTS_GROUP]
    else:
        options["blueprints"] = [
            importlib.import_module(f"{name}.views").blueprint for name in names
        ]
    return t.cast(t.Callable[..., Flask], create_app_factory(APP_NAME, **options))


def create_app(**kwargs: t.Any) -> Flask:
    """The app, from the environment (for ``create_cli``)."""
    return factory()(**kwargs)


cli = create_cli(create_app=create_app)

if __name__ == "__main__":
    cli()
