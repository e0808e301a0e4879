"""A module of tasks that only the tests' workers import (``celery_includes``)."""

from celery import shared_task
from flask import current_app


@shared_task(name="tests.where")
def where():
    return current_app.name
