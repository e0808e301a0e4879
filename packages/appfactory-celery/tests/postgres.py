"""The PostgreSQL of the database tests.

The code lives in :mod:`appfactory.core.testing.postgres`, a pytest plugin of
appfactory-core that other suites share; this module keeps the conftest's
``"postgres"`` plugin and the tests' ``from postgres import ...`` working.
"""

from __future__ import annotations

from appfactory.core.testing.postgres import (
    PostgresServer,
    postgres_server,
    postgres_url,
    start_postgres,
)

__all__ = ["PostgresServer", "postgres_server", "postgres_url", "start_postgres"]
