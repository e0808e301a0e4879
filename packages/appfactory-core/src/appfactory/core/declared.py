"""Commands that packages declare as metadata, imported only when they run.

A distribution declares its package's commands in the entry-point group
``appfactory.commands``, the command's name as the entry point's name and
``module:object`` as its value::

    [project.entry-points."appfactory.commands"]
    testsimple = "mymodule.cli:testsimple"

A command belongs to the package whose import name starts its module. The
management command lists it (``--help``, shell completion) from the entry
point and the command's docstring, read from the source file without
importing it; its module is imported when the command runs.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import typing as t
from dataclasses import dataclass

import click

from .errors import PackageContentError
from .packages import describe_import_error, entry_point_packages, installed_entry_points

#: The entry-point group in which distributions declare their packages' commands.
COMMANDS_GROUP = "appfactory.commands"


@dataclass(frozen=True)
class Declaration:
    """One entry point of :data:`COMMANDS_GROUP`."""

    name: str
    value: str
    distribution: str

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attribute(self) -> str:
        return self.value.partition(":")[2].strip()

    def describe(self) -> str:
        return f"entry point {self.name} = {self.value!r} ({COMMANDS_GROUP} of {self.distribution})"


@functools.cache
def declarations(group: str = COMMANDS_GROUP) -> tuple[Declaration, ...]:
    """Every declared command, scanned once per process (:func:`clear_cache` rescans)."""
    found = []
    for ep in installed_entry_points().select(group=group):
        dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
        found.append(Declaration(ep.name, ep.value, dist))
    return tuple(sorted(found, key=lambda d: (d.name, d.value)))


@functools.cache
def _by_package() -> dict[str, list[Declaration]]:
    """Every declaration under each prefix of its module (``a`` and ``a.b`` for ``a.b``)."""
    index: dict[str, list[Declaration]] = {}
    for declaration in declarations():
        parts = declaration.module.split(".")
        for end in range(1, len(parts) + 1):
            index.setdefault(".".join(parts[:end]), []).append(declaration)
    return index


def package_declarations(package: str) -> list[LazyCommand]:
    """The commands declared for ``package``, the same objects for every app."""
    return [lazy_command(d, package) for d in _by_package().get(package, ())]


def clear_cache() -> None:
    """Read the entry points again (after installing a distribution in a running process)."""
    entry_point_packages.cache_clear()
    declarations.cache_clear()
    _by_package.cache_clear()
    lazy_command.cache_clear()


class LazyCommand(click.Command):
    """A declared command: listed from metadata, imported when it runs or shows its help."""

    def __init__(self, declaration: Declaration, package: str) -> None:
        self.declaration = declaration
        self.package = package
        self._loaded: click.Command | None = None
        self._help_read = False
        super().__init__(declaration.name)

    def load(self) -> click.Command:
        """Import the command's module and return the declared click command."""
        if self._loaded is None:
            self._loaded = _load(self.declaration, self.package)
        return self._loaded

    def _read_help(self) -> None:
        if not self._help_read:
            self._help_read = True
            cache = _HELP_CACHE[-1] if _HELP_CACHE else None
            if cache is not None:
                self.help, self.short_help = cache.get(self.declaration)
            else:
                self.help, self.short_help = source_help(self.declaration)

    def get_short_help_str(self, limit: int = 45) -> str:
        if self._loaded is not None:
            return self._loaded.get_short_help_str(limit)
        self._read_help()
        return super().get_short_help_str(limit)

    # Everything that parses arguments, runs or describes the command in full
    # goes to the real command.
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> t.Any:
        return self.load().invoke(ctx)

    def get_help(self, ctx: click.Context) -> str:
        return self.load().get_help(ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return self.load().get_params(ctx)

    def to_info_dict(self, ctx: click.Context) -> dict[str, t.Any]:
        return self.load().to_info_dict(ctx)


@functools.cache
def lazy_command(declaration: Declaration, package: str) -> LazyCommand:
    """The command of one declaration, made once per process."""
    return LazyCommand(declaration, package)


def _load(declaration: Declaration, package: str) -> click.Command:
    fix = "fix the entry point in the package's pyproject.toml and reinstall the package"
    where = f"Command {declaration.name!r} of package {package!r}, {declaration.describe()},"
    module_name, attribute = declaration.module, declaration.attribute
    if not attribute:
        raise PackageContentError(
            f"{where} names no object; write it as 'module:object' and reinstall the package."
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise PackageContentError(
                f"{where} names module {module_name!r}, which does not exist; {fix}."
            ) from exc
        raise PackageContentError(
            f"{where} failed to import: {describe_import_error(exc)}; fix {module_name}."
        ) from exc
    except (Exception, SystemExit) as exc:
        raise PackageContentError(
            f"{where} failed to import: {describe_import_error(exc)}; fix {module_name}."
        ) from exc
    obj: t.Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise PackageContentError(
                f"{where} names {attribute!r}, which module {module_name!r} does not have; {fix}."
            )
        obj = getattr(obj, part)
    if not isinstance(obj, click.Command):
        raise PackageContentError(
            f"{where} names {type(obj).__name__} {obj!r}, not a click command; decorate "
            "the function with @click.command(), or fix the entry point."
        )
    return obj


class HelpCache:
    """The help texts read from the commands' sources, kept in a file between runs.

    An entry is used while the source file has the same modification time and
    size, as Python does for bytecode; a change of ``sys.path`` drops them all.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.changed = False
        self.key = hashlib.sha1("\0".join(sys.path).encode(), usedforsecurity=False).hexdigest()
        self.entries: dict[str, list[t.Any]] = {}
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if isinstance(data, dict) and data.get("sys_path") == self.key:
                self.entries = data.get("entries", {})
        except (OSError, ValueError):
            pass

    def get(self, declaration: Declaration) -> tuple[str | None, str | None]:
        """``(help, short_help)`` of a declared command, from the file or its source."""
        name = declaration.value
        entry = self.entries.get(name)
        if isinstance(entry, list) and len(entry) == 5:
            source, mtime, size, text, short = entry
            try:
                found = os.stat(source)
            except (OSError, TypeError, ValueError):
                found = None
            if found is not None and [found.st_mtime_ns, found.st_size] == [mtime, size]:
                return text, short
        text, short = source_help(declaration)
        source = _source_path(declaration.module)
        if source is not None:
            try:
                found = os.stat(source)
            except OSError:
                return text, short
            self.entries[name] = [source, found.st_mtime_ns, found.st_size, text, short]
            self.changed = True
        return text, short

    def save(self) -> None:
        """Write the file when an entry changed (nothing is lost if it cannot be)."""
        if not self.changed:
            return
        temporary = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"sys_path": self.key, "entries": self.entries}, handle)
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


#: The help cache of the listing under way, if any.
_HELP_CACHE: list[HelpCache] = []


@contextlib.contextmanager
def help_cache(path: str) -> t.Iterator[HelpCache]:
    """Read the declared commands' help through the cache file ``path`` meanwhile."""
    cache = HelpCache(path)
    _HELP_CACHE.append(cache)
    try:
        yield cache
    finally:
        _HELP_CACHE.pop()
        cache.save()


def source_help(declaration: Declaration) -> tuple[str | None, str | None]:
    """``(help, short_help)`` of a declared command, read from its source file.

    Nothing is imported; an object that is not a decorated function or class
    found in the module's top level has no help here.
    """
    path = _source_path(declaration.module)
    if path is None:
        return None, None
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None, None
    name = declaration.attribute.partition(".")[0]
    for node in tree.body:
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name == name
        ):
            return _decorator_help(node) or (ast.get_docstring(node), None)
    return None, None


def _decorator_help(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
) -> tuple[str | None, str | None] | None:
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        words = {
            k.arg: k.value.value
            for k in decorator.keywords
            if k.arg in ("help", "short_help")
            and isinstance(k.value, ast.Constant)
            and isinstance(k.value.value, str)
        }
        if words:
            return words.get("help") or ast.get_docstring(node), words.get("short_help")
    return None


def _source_path(module: str) -> str | None:
    """The ``.py`` file of ``module``, found without importing its parents."""
    loaded = sys.modules.get(module)
    if loaded is not None:
        return getattr(loaded, "__file__", None)
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for index in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join(parts[: index + 1]), list(spec.submodule_search_locations)
            )
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return origin if origin is not None and origin.endswith(".py") else None
