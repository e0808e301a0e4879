"""Real brokers for the tests: found on loopback, else started here, else skipped.

The code lives in :mod:`appfactory.celery.testing.servers`, the pytest plugin's
module (which also gives the ``redis_server`` and ``rabbitmq_server``
fixtures); this module keeps the tests' ``from servers import ...`` working.
"""

from __future__ import annotations

from appfactory.celery.testing.servers import (
    LOOPBACK,
    Server,
    amqp_answers,
    free_port,
    redis_answers,
    start_private_redis,
    start_rabbitmq,
    start_redis,
    unavailable,
    wait_until,
)

__all__ = [
    "LOOPBACK",
    "Server",
    "amqp_answers",
    "free_port",
    "redis_answers",
    "start_private_redis",
    "start_rabbitmq",
    "start_redis",
    "unavailable",
    "wait_until",
]
