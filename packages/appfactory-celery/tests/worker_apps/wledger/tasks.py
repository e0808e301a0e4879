"""A task that writes down when it starts and when it completes.

The ledger is a Redis named by the app's ``LEDGER_URL`` setting (so the task
also shows that it runs in its app's context). Keys:

- ``started`` (hash): task id -> how many times a run of it began;
- ``runs`` (hash): task id -> how many times a run of it completed;
- ``done`` (set): the ids of the tasks that completed at least once;
- ``running`` (hash): process id -> the id of the task it runs now;
- ``redelivered`` (hash): task id -> how many runs began from a message the
  broker delivered again (requeued after a lost worker or connection).
"""

import os
import time
from typing import Any

import redis
from celery import shared_task
from flask import current_app

_clients: dict[tuple[int, str], "redis.Redis[bytes]"] = {}


def ledger() -> "redis.Redis[bytes]":
    """This process's client of the ledger (a new one after a fork)."""
    url = str(current_app.config["LEDGER_URL"])
    key = (os.getpid(), url)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    return _clients[key]


@shared_task(bind=True)
def record(self: Any, pause: float = 0.0) -> str:
    """Mark the start, sleep ``pause`` seconds, then mark the completion."""
    task_id = str(self.request.id)
    pid = os.getpid()
    client = ledger()
    pipe = client.pipeline().hincrby("started", task_id, 1).hset("running", str(pid), task_id)
    if (self.request.delivery_info or {}).get("redelivered"):
        pipe.hincrby("redelivered", task_id, 1)
    pipe.execute()
    if pause:
        time.sleep(pause)
    pipe = client.pipeline()
    pipe.sadd("done", task_id).hincrby("runs", task_id, 1).hdel("running", str(pid))
    pipe.execute()
    return task_id
