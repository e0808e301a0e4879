"""appfactory.celery: Celery for apps built with appfactory."""

from __future__ import annotations

from .contexts import AppContextTask, RequestContextTask
from .discovery import load_tasks
from .errors import (
    BrokerUnavailableError,
    NoCeleryAppError,
    NoResultBackendError,
    TaskArgumentError,
)
from .extension import setup_app
from .factory import celery_app, celeryfactory, create_celery_app
from .version import __version__

__all__ = [
    "AppContextTask",
    "BrokerUnavailableError",
    "NoCeleryAppError",
    "NoResultBackendError",
    "RequestContextTask",
    "TaskArgumentError",
    "__version__",
    "celery_app",
    "celeryfactory",
    "create_celery_app",
    "load_tasks",
    "setup_app",
]
