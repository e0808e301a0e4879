"""The application factory of myapp."""

import typing as t

from flask import Flask

from appfactory.core import appfactory


def create_app(load: bool = True, **kwargs_config: t.Any) -> Flask:
    """Create myapp (``load=False``: configuration only)."""
    return appfactory(
        "myapp",
        "myapp.config",
        load=load,
        **kwargs_config,
    )
