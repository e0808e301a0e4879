"""The application factory of myapp."""

from flask import Flask

from appfactory.core import appfactory


def create_app(load: bool = True, **kwargs_config: object) -> Flask:
    """Create myapp (``load=False``: configuration only)."""
    return appfactory(
        "myapp",
        "myapp.config",
        load=load,
        **kwargs_config,
    )
