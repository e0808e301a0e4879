"""appfactory.sqlalchemy: the app's database, the packages' models and migrations."""

from __future__ import annotations

from .checks import CHECKS
from .discovery import DEPENDS_ON, MIGRATIONS
from .errors import MigrationDependencyError, MigrationError, TableConflictError
from .extension import db, setup_app
from .version import __version__

__all__ = [
    "CHECKS",
    "DEPENDS_ON",
    "MIGRATIONS",
    "MigrationDependencyError",
    "MigrationError",
    "TableConflictError",
    "__version__",
    "db",
    "setup_app",
]
