"""The floor: a plain Flask factory, written by hand for the same packages.

It does what the other systems do for the same app: the packages' defaults
(the earlier package winning), the blueprints, and the packages' commands on
``app.cli``. With entry points, it scans them itself, once per process.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os

import benchapp  # noqa: F401  (imported, so Flask finds the root path without a search)
from flask import Flask

from benchmarks.apps import APP_NAME, SECRET_KEY, configured_names, instance_path
from benchmarks.apps import uses_entry_points as _uses_entry_points
from benchmarks.synthetic import OURS_GROUP


@functools.cache
def advertised(group: str = OURS_GROUP) -> list[str]:
    """The packages advertised in ``group``, sorted by entry-point name; scanned once."""
    found = importlib.metadata.entry_points(group=group)
    return [ep.value for ep in sorted(found, key=lambda ep: (ep.name, ep.value))]


def create_app(
    names: list[str] | None = None, entry_points: bool | None = None, commands: bool = True
) -> Flask:
    """A Flask app with the packages' defaults, blueprints and (``commands``) commands."""
    if entry_points is None:
        entry_points = _uses_entry_points()
    if names is None:
        names = advertised() if entry_points else configured_names()
    instance = instance_path()
    app = Flask(
        APP_NAME,
        instance_path=instance,
        static_folder=os.path.join(instance, "static"),
        instance_relative_config=True,
    )
    for name in reversed(names):
        app.config.from_object(importlib.import_module(f"{name}.config"))
    app.config["SECRET_KEY"] = SECRET_KEY
    for name in names:
        app.register_blueprint(importlib.import_module(f"{name}.views").blueprint)
    if commands:
        for name in names:
            for command in importlib.import_module(f"{name}.cli").commands:
                app.cli.add_command(command)
    return app
