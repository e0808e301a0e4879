"""The worker module: ``celery -A wdb.celery worker``."""

from appfactory.celery import celeryfactory

from .app import create_app

celery = celeryfactory(create_app())
