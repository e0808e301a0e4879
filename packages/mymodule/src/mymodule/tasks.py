"""Background tasks of mymodule, run by the app's Celery worker."""

from __future__ import annotations

from celery import shared_task
from celery.utils.log import get_task_logger
from flask import current_app, request

from appfactory.celery import RequestContextTask, send_on_commit
from appfactory.core import mask_url
from appfactory.sqlalchemy import db

from .models import Greeting

logger = get_task_logger(__name__)


@shared_task
def appctx() -> str:
    """Runs in the app context: returns the app's name."""
    broker = current_app.config.get("CELERY_BROKER_URL") or current_app.config.get("BROKER_URL")
    logger.info("appctx runs in %s with broker %s", current_app.name, mask_url(str(broker)))
    return current_app.name


@shared_task(base=RequestContextTask)
def reqctx() -> str:
    """Runs in a request context: returns the request's method."""
    return request.method


@shared_task
def leave_greeting(text: str) -> int:
    """Store a greeting and return its id; ``read_greeting`` is sent once it is committed."""
    greeting = Greeting(text=text)
    db.session.add(greeting)
    db.session.flush()  # gives the row its id, inside the transaction
    send_on_commit(read_greeting.s(greeting.id))
    db.session.commit()
    greeting_id: int = greeting.id
    return greeting_id


@shared_task
def read_greeting(greeting_id: int) -> str:
    """Return the text of a committed greeting (sent on commit, so the row is there)."""
    greeting = db.session.get(Greeting, greeting_id)
    if greeting is None:
        raise LookupError(f"Greeting {greeting_id} does not exist.")
    logger.info("greeting %s: %s", greeting_id, greeting.text)
    text: str = greeting.text
    return text
