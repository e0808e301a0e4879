"""The errors of appfactory-sqlalchemy: each names the package, revision or file at fault."""

from __future__ import annotations

from appfactory.core import AppFactoryError, ConfigError


class MigrationDependencyError(ConfigError):
    """A package's migrations depend on a package that is missing, or on themselves
    through a cycle of ``DEPENDS_ON``."""


class MigrationError(AppFactoryError):
    """A migration failed, or the migrations cannot be read or run as asked."""


class TableConflictError(AppFactoryError):
    """Two packages define a table of the same name on the app's metadata."""
