"""What the factory knows about an app, kept in ``app.extensions["appfactory"]``."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from types import ModuleType

from flask import Blueprint, Flask

from .errors import AppFactoryError
from .options import Option, OptionTable
from .problems import Problem
from .provenance import ConfigHistory

if t.TYPE_CHECKING:
    import click

EXTENSION_KEY = "appfactory"


@dataclass
class PackageInfo:
    """One package of an app and what it contributes."""

    name: str
    #: ``"PACKAGES"`` or the entry point that advertised the package.
    source: str
    #: Discovered modules by short name (``config``, ``views``, ``cli``, ...).
    modules: dict[str, ModuleType] = field(default_factory=dict)
    config_keys: list[str] = field(default_factory=list)
    blueprints: list[Blueprint] = field(default_factory=list)
    url_rules: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    #: Contributions that extensions record, shown by ``packages`` (e.g. ``tasks``).
    extras: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Conflict:
    """Two or more packages gave the same thing; the precedence rule chose one."""

    kind: str
    name: str
    winner: str
    losers: tuple[str, ...]


@dataclass
class Registry:
    """The factory's record of one app."""

    app_name: str
    prefix: str
    history: ConfigHistory
    instance_file: str
    module_name: str | None = None
    packages: list[PackageInfo] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    extension_commands: dict[str, list[str]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    #: Settings declared by name only: Flask's and the packages' defaults, what
    #: extensions set or gave a default with ``app.config.setdefault``.
    declared_settings: set[str] = field(default_factory=set)
    #: Tables of declared settings (appfactory's own, then the extensions'), with
    #: the name of whoever declared each.
    option_tables: list[tuple[str, OptionTable]] = field(default_factory=list)
    #: Environment values read without a known type: ``{key: (variable, text)}``,
    #: read again as their setting's type once a default declares it.
    untyped_variables: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The entry of ``EXTENSIONS`` being set up, while one is.
    current_extension: str | None = None
    ignored_variables: list[str] = field(default_factory=list)
    #: Why the instance's key file could not be read or written, if it could not.
    secret_key_problem: str | None = None
    commands: dict[str, tuple[str, click.Command]] | None = None
    #: Functions that extensions add to ``check``; each returns a list of problems.
    checks: list[t.Callable[[Flask], list[Problem]]] = field(default_factory=list)
    #: Functions run before ``packages`` and ``check`` read the registry, for
    #: extensions that discover more lazily (such as the packages' tasks).
    before_inspect: list[t.Callable[[Flask], None]] = field(default_factory=list)
    #: Functions that give the lines an extension adds to ``myapp shell``'s banner.
    shell_banners: list[t.Callable[[Flask], str]] = field(default_factory=list)
    loaded: bool = False

    def prepare_inspection(self, app: Flask) -> None:
        """Let extensions finish discovering before the registry is inspected."""
        for hook in self.before_inspect:
            hook(app)

    def option(self, key: str) -> Option | None:
        """The declared setting ``key``, if a table declares it."""
        for _, table in self.option_tables:
            found = table.get(key)
            if found is not None:
                return found
        return None

    def is_declared(self, key: str) -> bool:
        """Whether anything below the app's own layers knows the setting ``key``."""
        return key in self.declared_settings or self.option(key) is not None

    def declared_names(self) -> set[str]:
        """Every declared setting's name (for suggestions: built on each call)."""
        names = set(self.declared_settings)
        for _, table in self.option_tables:
            names.update(table)
        return names

    def package(self, name: str) -> PackageInfo:
        """The package called ``name``."""
        for info in self.packages:
            if info.name == name:
                return info
        raise KeyError(name)


def get_registry(app: Flask) -> Registry:
    """The registry of an app made by :func:`~appfactory.core.appfactory`.

    >>> from appfactory.core import appfactory
    >>> get_registry(appfactory("dummyapp", None, TESTING=True)).app_name
    'dummyapp'
    """
    registry = app.extensions.get(EXTENSION_KEY)
    if not isinstance(registry, Registry):
        raise AppFactoryError(
            f"The Flask app {app.name!r} was not made by appfactory(); create it with "
            "appfactory.core.appfactory(), which takes the instance_path and flask_cls "
            "that Flask(...) would."
        )
    return registry
