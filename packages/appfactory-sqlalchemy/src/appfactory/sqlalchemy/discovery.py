"""Finding each package's tables (its ``models``) and migrations (``<pkg>/migrations/``).

Nothing here imports Alembic: the web app's start runs this and stays small.
"""

from __future__ import annotations

import importlib
import re
import typing as t
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from flask import Flask

import sqlalchemy as sa
from appfactory.core import PackageModuleError, discover_modules, get_registry
from appfactory.core import import_package_module as import_module_of

from .errors import MigrationDependencyError, TableConflictError

#: The folder, in a package, that holds its Alembic revisions.
MIGRATIONS = "migrations"
#: The name, in ``<pkg>/migrations/__init__.py``, of the packages whose tables it needs.
DEPENDS_ON = "DEPENDS_ON"

#: The tables each ``models`` module defined: a module imported once per process defines
#: its tables once, and every later app of the process reads them here.
_TABLES_BY_MODULE: weakref.WeakKeyDictionary[ModuleType, tuple[str, ...]] = (
    weakref.WeakKeyDictionary()
)

_ALREADY_DEFINED = re.compile(r"Table '([^']+)' is already defined")


@dataclass
class PackageDatabase:
    """What one package brings to the database."""

    name: str
    #: The tables its ``models`` module defines, in definition order.
    tables: tuple[str, ...] = ()
    #: Its ``migrations`` folder, when it has one.
    folder: Path | None = None
    #: The packages whose tables its migrations need.
    depends_on: tuple[str, ...] = ()


@dataclass
class DatabasePackages:
    """Every package of an app, in ``PACKAGES`` order, and the migrations' order."""

    packages: dict[str, PackageDatabase] = field(default_factory=dict)
    #: The packages with migrations, each after those it depends on.
    order: list[str] = field(default_factory=list)

    def table_owners(self) -> dict[str, list[str]]:
        """``{table: [packages defining it]}``."""
        owners: dict[str, list[str]] = {}
        for package in self.packages.values():
            for table in package.tables:
                owners.setdefault(table, []).append(package.name)
        return owners


def discover_packages(app: Flask, metadata: sa.MetaData) -> DatabasePackages:
    """Import every package's ``models`` in ``PACKAGES`` order and find its migrations."""
    found = DatabasePackages()
    owners: dict[str, str] = {}
    for info in get_registry(app).packages:
        package = PackageDatabase(info.name)
        module = _import_models(info.name, metadata, owners)
        if module is not None:
            package.tables = _TABLES_BY_MODULE[module]
            for table in package.tables:
                owners.setdefault(table, info.name)
        package.folder = migrations_folder(importlib.import_module(info.name))
        found.packages[info.name] = package
    # Recorded as the packages' models modules, for ``myapp packages``.
    discover_modules(app, "models")
    for package in found.packages.values():
        if package.folder is not None:
            package.depends_on = _declared_dependencies(package)
    found.order = migration_order(found.packages)
    return found


def _import_models(
    package: str, metadata: sa.MetaData, owners: dict[str, str]
) -> ModuleType | None:
    name = f"{package}.models"
    before = set(metadata.tables)
    try:
        module = import_module_of(package, "models")
    except PackageModuleError as exc:
        cause = exc.__cause__
        match = _ALREADY_DEFINED.search(str(cause)) if cause is not None else None
        if isinstance(cause, sa.exc.InvalidRequestError) and match:
            table = match[1]
            raise TableConflictError(
                f"Package {package!r} defines table {table!r} in {name}, which package "
                f"{owners.get(table, 'another package')!r} already defines; each table has one "
                f"owner: rename one of the tables (__tablename__), or drop one package."
            ) from cause
        raise
    if module is None:
        return None
    if module not in _TABLES_BY_MODULE:
        tables = [table for table in metadata.tables if table not in before]
        tables += [table for table in _module_tables(module) if table not in tables]
        _TABLES_BY_MODULE[module] = tuple(tables)
    return module


def _module_tables(module: ModuleType) -> list[str]:
    """The tables a module holds: its ``Table`` objects and its mapped classes' tables."""
    names = []
    for value in vars(module).values():
        table = value if isinstance(value, sa.Table) else getattr(value, "__table__", None)
        if isinstance(table, sa.Table) and getattr(value, "__module__", module.__name__) in (
            module.__name__,
            "sqlalchemy.sql.schema",
        ):
            names.append(table.key)
    return names


def migrations_folder(module: ModuleType) -> Path | None:
    """``<pkg>/migrations/`` of the package ``module``, when the folder exists."""
    for entry in getattr(module, "__path__", []):
        folder = Path(entry) / MIGRATIONS
        if folder.is_dir():
            return folder
    return None


def _declared_dependencies(package: PackageDatabase) -> tuple[str, ...]:
    assert package.folder is not None
    if not (package.folder / "__init__.py").is_file():
        return ()
    module = import_module_of(package.name, MIGRATIONS)
    value: t.Any = getattr(module, DEPENDS_ON, ())
    where = f"{package.name}.{MIGRATIONS}"
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise MigrationDependencyError(
            f"{DEPENDS_ON} in {where} must be a list of package names, not {value!r}; "
            f"for example {DEPENDS_ON} = ['mymodule']."
        )
    for item in value:
        if not isinstance(item, str) or not item:
            raise MigrationDependencyError(
                f"{DEPENDS_ON} in {where} holds {item!r}, which is not a package name; "
                f"for example {DEPENDS_ON} = ['mymodule']."
            )
    return tuple(value)


def migration_order(packages: dict[str, PackageDatabase]) -> list[str]:
    """The packages with migrations, dependencies first, else in ``PACKAGES`` order.

    A dependency that is no package of the app, or has no migrations, and a cycle
    are errors naming the packages.
    """
    for package in packages.values():
        for needed in package.depends_on:
            where = f"{DEPENDS_ON} in {package.name}.{MIGRATIONS}"
            if needed not in packages:
                raise MigrationDependencyError(
                    f"Package {package.name!r} needs the tables of package {needed!r} "
                    f"({where}), but {needed!r} is not a package of the app; add it to "
                    f"PACKAGES, or remove it from {DEPENDS_ON}."
                )
            if packages[needed].folder is None:
                raise MigrationDependencyError(
                    f"Package {package.name!r} needs the tables of package {needed!r} "
                    f"({where}), but {needed!r} has no migrations folder "
                    f"({needed}/{MIGRATIONS}/); give it migrations, or remove it from "
                    f"{DEPENDS_ON}."
                )
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            raise MigrationDependencyError(
                "The migrations of packages "
                + " -> ".join(repr(n) for n in cycle)
                + f" depend on each other in a cycle ({DEPENDS_ON}); remove one of these "
                "dependencies (a table both need belongs in one package)."
            )
        visiting.append(name)
        for needed in packages[name].depends_on:
            visit(needed)
        visiting.pop()
        order.append(name)

    for name, package in packages.items():
        if package.folder is not None:
            visit(name)
    return order
