"""Ours: the same app made by :func:`appfactory.core.appfactory`.

``python -m benchmarks.apps.ours`` is the app's management command, as
``myapp`` is for the example app (``cli = clifactory(create_app)``).
"""

from __future__ import annotations

import types
import typing as t

import benchapp  # noqa: F401  (the app's own package, imported as a real app's is)
from flask import Flask

from appfactory.core import appfactory, clifactory
from benchmarks.apps import APP_NAME, SECRET_KEY, configured_names, uses_entry_points, wants_celery


def settings(
    names: list[str] | None = None,
    entry_points: bool | None = None,
    celery: bool | None = None,
) -> types.SimpleNamespace:
    """The app's configuration object (its ``module_name`` layer)."""
    if entry_points is None:
        entry_points = uses_entry_points()
    if celery is None:
        celery = wants_celery()
    if names is None:
        names = [] if entry_points else configured_names()
    return types.SimpleNamespace(
        SECRET_KEY=SECRET_KEY,
        PACKAGES=[] if entry_points else list(names),
        EXTENSIONS=["appfactory.celery"] if celery else [],
    )


def factory(
    names: list[str] | None = None,
    entry_points: bool | None = None,
    celery: bool | None = None,
) -> t.Callable[..., Flask]:
    """The app's ``create_app(load=True, **config)``, as a user writes it."""
    config = settings(names, entry_points, celery)

    def create_app(load: bool = True, **kwargs_config: t.Any) -> Flask:
        return appfactory(APP_NAME, config, load=load, **kwargs_config)

    return create_app


create_app = factory()
cli = clifactory(create_app)

if __name__ == "__main__":
    cli()
