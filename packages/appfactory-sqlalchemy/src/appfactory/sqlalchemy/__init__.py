"""appfactory.sqlalchemy: the app's database, the packages' models and migrations."""

from __future__ import annotations

from .checks import CHECKS
from .database import db
from .discovery import DEPENDS_ON, MIGRATIONS
from .errors import MigrationDependencyError, MigrationError, TableConflictError
from .extension import setup_app
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
