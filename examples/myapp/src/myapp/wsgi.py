"""The WSGI application of myapp, for a server such as gunicorn."""

from .app import create_app

application = create_app()
