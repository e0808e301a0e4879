"""The errors of sending tasks and fetching their results.

Each is an :class:`~appfactory.core.AppFactoryError`, so that the management
command shows it as one line, and also an instance of the exception Celery or
kombu raised before, so that code catching those keeps working.
"""

from __future__ import annotations

from kombu.exceptions import EncodeError, OperationalError

from appfactory.core import AppFactoryError
from celery.exceptions import TimeoutError


class BrokerUnavailableError(AppFactoryError, OperationalError):
    """A task was not sent: its broker (or result backend) could not be reached."""


class TaskArgumentError(AppFactoryError, EncodeError):
    """A task was not sent: an argument cannot be carried by the task serializer."""


class NoCeleryAppError(AppFactoryError, RuntimeError):
    """A Flask app (or a task's Celery app) has no Celery app of appfactory's."""


class NoResultBackendError(AppFactoryError, NotImplementedError):
    """A result was asked of a Celery app that keeps no results."""


class NoWorkerError(AppFactoryError, TimeoutError):  # type: ignore[misc]
    """A result did not come in time, and no worker answers on the app's broker."""
