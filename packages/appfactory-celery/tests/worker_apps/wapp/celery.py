"""The worker module: ``celery -A wapp.celery worker``."""

from appfactory.celery import celeryfactory

from .app import create_app

celery = celeryfactory(create_app())
