"""An extension that loads the ``models`` module of every package."""

from flask import Flask

from appfactory.core import discover_modules


def setup_app(app: Flask) -> None:
    app.extensions["cfg_models"] = discover_modules(app, "models")
