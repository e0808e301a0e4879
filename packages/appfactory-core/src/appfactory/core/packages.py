"""Which packages an app has, and finding their modules by convention."""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import pkgutil
import re
import sys
import typing as t
from dataclasses import dataclass
from types import ModuleType

from flask import Flask

from .errors import ConfigError, PackageModuleError, PackageNotFoundError, describe_exception
from .registry import get_registry

#: An import name (``a.b``), with an attribute (``a.b:Name``) for EXTENSIONS.
_IMPORT_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?")

#: The entry-point group in which installed distributions advertise packages.
ENTRY_POINT_GROUP = "appfactory.packages"


#: The setting that advertises packages for one app as if an installed
#: distribution did (tests use it to add a package to one app only).
EXTRA_SETTING = "PACKAGES_ENTRY_POINTS_EXTRA"


@dataclass(frozen=True)
class PackageRef:
    """A package name and why the app has it."""

    name: str
    source: str
    #: The name of the entry point that advertised the package, if one did.
    entry_point: str | None = None


def string_list(value: t.Any, setting: str) -> list[str]:
    """Check that a setting is a list of strings and return it as a list.

    >>> string_list(("a", "b"), "PACKAGES")
    ['a', 'b']
    """
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(
            f"{setting} must be a list of strings, not {type(value).__name__} "
            f"{value!r}; for example {setting} = ['mymodule']."
        )
    for item in value:
        if not isinstance(item, str) or not item:
            raise ConfigError(
                f"{setting} holds {item!r}, which is not a non-empty string; "
                f"list import names, for example {setting} = ['mymodule']."
            )
        if not _IMPORT_NAME.fullmatch(item):
            raise ConfigError(
                f"{setting} holds {item!r}, which is not an import name (dotted Python "
                "names, no leading dot, no path, no spaces); list import names, for example "
                f"{setting} = ['mymodule']."
            )
    return list(value)


class _EntryPointPackages:
    """:func:`entry_point_packages`: one scan of every installed distribution's entry
    points per process, shared with the other groups appfactory reads."""

    def __init__(self) -> None:
        self._installed: importlib.metadata.EntryPoints | None = None
        self._groups: dict[str, tuple[PackageRef, ...]] = {}

    def installed(self) -> importlib.metadata.EntryPoints:
        """Every entry point of every installed distribution, read once."""
        if self._installed is None:
            # Python 3.11 gives SelectableGroups, whose select(group=...) is the same.
            self._installed = t.cast(
                importlib.metadata.EntryPoints, importlib.metadata.entry_points()
            )
        return self._installed

    def __call__(self, group: str = ENTRY_POINT_GROUP) -> tuple[PackageRef, ...]:
        """Packages that installed distributions advertise in ``group``.

        Scanned once per process (``entry_point_packages.cache_clear()`` rescans);
        sorted by entry-point name, then value, so the order never depends on the
        order in which distributions were installed.
        """
        found = self._groups.get(group)
        if found is None:
            refs = []
            for ep in self.installed().select(group=group):
                dist = ep.dist.name if ep.dist is not None else "unknown distribution"
                refs.append(PackageRef(ep.value, f"entry point {ep.name!r} of {dist}", ep.name))
            found = self._groups[group] = tuple(sorted(refs, key=_entry_point_order))
        return found

    def cache_clear(self) -> None:
        """Scan the installed distributions again at the next call."""
        self._installed = None
        self._groups.clear()


#: Packages that installed distributions advertise in a group (see :class:`_EntryPointPackages`).
entry_point_packages = _EntryPointPackages()


def installed_entry_points() -> importlib.metadata.EntryPoints:
    """Every installed distribution's entry points, scanned once per process
    (``entry_point_packages.cache_clear()`` rescans)."""
    return entry_point_packages.installed()


def _entry_point_order(ref: PackageRef) -> tuple[str, str]:
    return (ref.entry_point or "", ref.name)


def extra_entry_points(value: t.Any) -> list[PackageRef]:
    """The packages of ``PACKAGES_ENTRY_POINTS_EXTRA``, a ``{entry point: package}`` map.

    >>> extra_entry_points({"greeter": "greeter"})[0].source
    "entry point 'greeter' of PACKAGES_ENTRY_POINTS_EXTRA"
    """
    if value is None:
        return []
    example = f"for example {EXTRA_SETTING} = {{'greeter': 'greeter'}}"
    if not isinstance(value, dict):
        raise ConfigError(
            f"{EXTRA_SETTING} must map entry-point names to package import names, not "
            f"{type(value).__name__} {value!r}; {example}."
        )
    refs = []
    for name, package in value.items():
        if not (isinstance(name, str) and name and isinstance(package, str) and package):
            raise ConfigError(
                f"{EXTRA_SETTING} maps {name!r} to {package!r}; both must be non-empty "
                f"strings, the entry-point name and the package's import name; {example}."
            )
        refs.append(PackageRef(package, f"entry point {name!r} of {EXTRA_SETTING}", name))
    return refs


def resolve_packages(
    explicit: t.Any, exclude: t.Any, group: t.Any = ENTRY_POINT_GROUP, extra: t.Any = None
) -> list[PackageRef]:
    """The app's packages in order.

    ``PACKAGES`` first, in its order; then packages advertised in the entry
    point ``group`` (``None`` turns them off), sorted by entry-point name; a
    name given twice keeps its first place; names in ``PACKAGES_EXCLUDE`` go.
    ``extra`` (``PACKAGES_ENTRY_POINTS_EXTRA``) advertises more packages for
    this app only, ordered among the group's as if a distribution advertised them.
    """
    excluded = set(string_list(exclude, "PACKAGES_EXCLUDE"))
    refs = [PackageRef(name, "PACKAGES") for name in string_list(explicit, "PACKAGES")]
    extras = extra_entry_points(extra)
    if group is not None:
        if not isinstance(group, str):
            raise ConfigError(
                f"PACKAGES_ENTRY_POINT_GROUP must be a string or None, not {group!r}."
            )
        advertised = entry_point_packages(group)
        refs.extend(
            sorted([*advertised, *extras], key=_entry_point_order) if extras else advertised
        )
    seen: set[str] = set()
    ordered = []
    for ref in refs:
        if ref.name not in seen and ref.name not in excluded:
            seen.add(ref.name)
            ordered.append(ref)
    return ordered


def import_package(package: str) -> ModuleType:
    """Import a package of the app, or explain why it cannot be imported."""
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name == package or package.startswith(f"{exc.name}."):
            raise PackageNotFoundError(_not_installed(package)) from exc
        raise PackageModuleError(
            f"Package {package!r} failed to import: {describe_exception(exc)}. "
            f"Fix the import in {package!r} or install what it needs."
        ) from exc
    except (Exception, SystemExit) as exc:
        raise PackageModuleError(
            f"Package {package!r} failed to import: {describe_import_error(exc)}. "
            f"Fix the error in {package!r}."
        ) from exc


def import_package_module(package: str, module: str) -> ModuleType | None:
    """Import ``<package>.<module>``; ``None`` when the package has no such module.

    A module that exists but fails to import is an error naming both.

    >>> import_package_module("json", "no_such_module") is None
    True
    """
    qualified = f"{package}.{module}"
    found = sys.modules.get(qualified)
    if found is not None:
        return found
    parent = import_package(package)
    if not hasattr(parent, "__path__"):
        return None
    # Imported without a find_spec() first, which would search for the module twice.
    try:
        return importlib.import_module(qualified)
    except (Exception, SystemExit) as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == qualified:
            return None
        raise PackageModuleError(
            f"Module {qualified!r} of package {package!r} failed to import: "
            f"{describe_import_error(exc)}. Fix the error in {qualified}, or remove "
            f"{package!r} from PACKAGES."
        ) from exc


def describe_import_error(exc: BaseException) -> str:
    """:func:`describe_exception`, saying what a ``sys.exit()`` at import means.

    >>> describe_import_error(SystemExit(2))
    'it called sys.exit(2) while being imported'
    """
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}) while being imported"
    return describe_exception(exc)


def discover_modules(app: Flask, module: str) -> list[ModuleType]:
    """Import ``<package>.<module>`` of every package of ``app``, in order.

    For extensions that load more than the conventional modules, such as the
    ``models`` of every package. Packages without the module are skipped.
    """
    found = []
    for info in get_registry(app).packages:
        imported = import_package_module(info.name, module)
        if imported is not None:
            info.modules[module] = imported
            found.append(imported)
    return found


def _not_installed(package: str) -> str:
    message = f"Package {package!r} in PACKAGES is not installed or not importable."
    top = package.partition(".")[0]
    names = {m.name for m in pkgutil.iter_modules()} | {n for n in sys.modules if "." not in n}
    close = difflib.get_close_matches(top, sorted(names), n=1, cutoff=0.75)
    if close and close[0] != top:
        message += f" Did you mean {close[0]!r}?"
    return message + " Install it (pip install ...) or remove it from PACKAGES."
