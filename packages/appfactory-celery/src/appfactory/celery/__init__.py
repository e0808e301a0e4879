"""appfactory.celery: Celery for apps built with appfactory."""

from __future__ import annotations

from .checks import CHECKS
from .contexts import AppContextTask, RequestContextTask
from .discovery import load_tasks
from .errors import (
    BrokerUnavailableError,
    NoCeleryAppError,
    NoResultBackendError,
    TaskArgumentError,
)
from .extension import setup_app
from .factory import celeryfactory
from .version import __version__

__all__ = [
    "CHECKS",
    "AppContextTask",
    "BrokerUnavailableError",
    "NoCeleryAppError",
    "NoResultBackendError",
    "RequestContextTask",
    "TaskArgumentError",
    "__version__",
    "celeryfactory",
    "load_tasks",
    "setup_app",
]

# Deprecated (they warn), importable until appfactory-celery 0.3: celeryfactory()
# with load_tasks=False does what they did.
from .factory import celery_app as celery_app
from .factory import create_celery_app as create_celery_app
