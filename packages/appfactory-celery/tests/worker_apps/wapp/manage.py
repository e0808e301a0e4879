"""The management command of ``wapp``: ``python -m wapp.manage check``."""

from appfactory.core import clifactory

from .app import create_app

cli = clifactory(create_app)

if __name__ == "__main__":
    cli()
