"""Factory of the database tests' app."""

from typing import Any

from flask import Flask

from appfactory.core import appfactory


def create_app(load: bool = True, **config: Any) -> Flask:
    """Create the app ``wdb`` (settings from ``WDB_*`` variables, as for a real app)."""
    return appfactory("wdb", "wdb.config", load=load, **config)
