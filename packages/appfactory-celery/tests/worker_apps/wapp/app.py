"""Factory of the worker tests' app."""

from typing import Any

from flask import Flask

from appfactory.core import appfactory


def create_app(load: bool = True, **config: Any) -> Flask:
    """Create the app ``wapp``."""
    return appfactory("wapp", "wapp.config", load=load, **config)
