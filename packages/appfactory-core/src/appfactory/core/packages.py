"""Which packages an app has, and finding their modules by convention."""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import importlib.util
import pkgutil
import sys
import typing as t
from dataclasses import dataclass
from types import ModuleType

from flask import Flask

from .errors import ConfigError, PackageModuleError, PackageNotFoundError, describe_exception
from .registry import get_registry

#: The entry-point group in which installed distributions advertise packages.
ENTRY_POINT_GROUP = "appfactory.packages"


@dataclass(frozen=True)
class PackageRef:
    """A package name and why the app has it."""

    name: str
    source: str


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
    return list(value)


@functools.cache
def entry_point_packages(group: str = ENTRY_POINT_GROUP) -> tuple[PackageRef, ...]:
    """Packages that installed distributions advertise in ``group``.

    Scanned once per process (``entry_point_packages.cache_clear()`` rescans);
    sorted by entry-point name, then value, so the order never depends on the
    order in which distributions were installed.
    """
    refs = []
    for ep in importlib.metadata.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        refs.append((ep.name, ep.value, PackageRef(ep.value, f"entry point {ep.name!r} of {dist}")))
    return tuple(ref for _, _, ref in sorted(refs, key=lambda r: (r[0], r[1])))


def resolve_packages(
    explicit: t.Any, exclude: t.Any, group: t.Any = ENTRY_POINT_GROUP
) -> list[PackageRef]:
    """The app's packages in order.

    ``PACKAGES`` first, in its order; then packages advertised in the entry
    point ``group`` (``None`` turns them off), sorted by entry-point name; a
    name given twice keeps its first place; names in ``PACKAGES_EXCLUDE`` go.
    """
    excluded = set(string_list(exclude, "PACKAGES_EXCLUDE"))
    refs = [PackageRef(name, "PACKAGES") for name in string_list(explicit, "PACKAGES")]
    if group is not None:
        if not isinstance(group, str):
            raise ConfigError(
                f"PACKAGES_ENTRY_POINT_GROUP must be a string or None, not {group!r}."
            )
        refs.extend(entry_point_packages(group))
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
    except Exception as exc:
        raise PackageModuleError(
            f"Package {package!r} failed to import: {describe_exception(exc)}. "
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
    if importlib.util.find_spec(qualified) is None:
        return None
    try:
        return importlib.import_module(qualified)
    except Exception as exc:
        raise PackageModuleError(
            f"Module {qualified!r} of package {package!r} failed to import: "
            f"{describe_exception(exc)}. Fix the error in {qualified}, or remove "
            f"{package!r} from PACKAGES."
        ) from exc


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
