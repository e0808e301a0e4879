"""The Celery application of myapp, for the worker.

Start it with ``celery -A myapp.celery worker``.
"""

from appfactory.celery import celeryfactory

from .app import create_app

celery = celeryfactory(create_app())
