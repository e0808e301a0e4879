"""The result backend of a Celery app that keeps no results.

Celery's own answers a request for a result with a bare ``NotImplementedError``;
this one names the app and the setting to choose a result backend with.
"""

from __future__ import annotations

import typing as t

from celery.backends.base import DisabledBackend

from .broker import describe_broker
from .errors import NoResultBackendError

#: The value of a Celery app's ``backend_cls`` that selects :class:`NoResultBackend`.
NO_RESULT_BACKEND = "appfactory.celery.results:NoResultBackend"


class NoResultBackend(DisabledBackend):  # type: ignore[misc]
    """Stores nothing; asking it for a result raises :class:`NoResultBackendError`."""

    def _no_results(self, *_args: t.Any, **_kwargs: t.Any) -> t.NoReturn:
        raise NoResultBackendError(
            f"The Celery app {self.app.main!r} keeps no task results: it has no result "
            f"backend, and its broker {describe_broker(self.app.conf.broker_url)} does not "
            "give one. Set CELERY_RESULT_BACKEND (such as 'redis://127.0.0.1:6379/0'), or "
            "do not wait for results: send with ignore_result=True and do not call get()."
        )

    get_state = get_status = get_result = get_traceback = _no_results
    get_task_meta_for = wait_for = get_many = _get_task_meta_for = _no_results
