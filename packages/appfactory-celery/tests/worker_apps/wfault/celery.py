"""The worker module ``celery -A wfault.celery worker``: ``wapp``'s, with one fault.

The first time the worker takes the task whose id is ``WFAULT_TASK_ID`` off
its Redis queue, recording it as unacknowledged fails with the connection
error Redis gives when it goes away at that moment. The message has really
left the queue: only the worker holds it.
"""

import os
from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from wapp.celery import celery

__all__ = ["celery"]

_record = kombu_redis.QoS.append
_fired: list[str] = []


def _append(self: Any, message: Any, delivery_tag: str) -> None:
    task_id = message.headers.get("id")
    if task_id == os.environ.get("WFAULT_TASK_ID") and not _fired:
        _fired.append(task_id)
        raise RedisConnectionError("Connection closed by server. (fault of wfault)")
    _record(self, message, delivery_tag)


kombu_redis.QoS.append = _append
