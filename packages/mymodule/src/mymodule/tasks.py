"""Background tasks of mymodule, run by the app's Celery worker."""

from celery import shared_task
from celery.utils.log import get_task_logger
from flask import current_app, request

from appfactory.celery import RequestContextTask
from appfactory.core import mask_url

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
