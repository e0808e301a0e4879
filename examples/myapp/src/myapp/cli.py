"""The ``myapp`` management command."""

from appfactory.core import clifactory

from .app import create_app

cli = clifactory(create_app)
