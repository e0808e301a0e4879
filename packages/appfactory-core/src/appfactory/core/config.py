"""Loading the configuration layers in the order of the one precedence rule.

1. package defaults (``<pkg>.config``), the earlier package in ``PACKAGES`` winning;
2. the app's configuration module or object (``module_name``);
3. the instance file ``<instance>/<app_name>.cfg``;
4. keyword arguments to :func:`~appfactory.core.appfactory`;
5. environment variables ``<PREFIX>_<KEY>`` (and the legacy ``APP_CONFIG_ENVS`` names).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import os
import typing as t
from collections.abc import Mapping
from types import ModuleType

from flask import Flask

from .environ import (
    check_text,
    legacy_variable_names,
    parse_as,
    parse_env_value,
    prefixed_variables,
)
from .errors import ConfigError, PackageContentError
from .instance_file import read_instance_file
from .masking import masked_repr
from .options import CORE_OPTIONS
from .packages import (
    ENTRY_POINT_GROUP,
    PackageRef,
    describe_import_error,
    import_package_module,
    resolve_packages,
)
from .provenance import ConfigHistory, Layer, Origin
from .registry import Conflict, PackageInfo

Layered = dict[str, t.Any]

#: False while an app is configured only to list its commands: the packages'
#: ``config`` modules, and with them the packages, are then not imported.
_PACKAGE_DEFAULTS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "appfactory_package_defaults", default=True
)


@contextlib.contextmanager
def without_package_defaults() -> t.Iterator[None]:
    """Configure apps without their packages' defaults (for listing commands only)."""
    token = _PACKAGE_DEFAULTS.set(False)
    try:
        yield
    finally:
        _PACKAGE_DEFAULTS.reset(token)


def uppercase_settings(obj: t.Any) -> Layered:
    """The UPPERCASE names of a module, class, instance or mapping.

    >>> class Config:
    ...     DEBUG = True
    ...     helper = 1
    >>> uppercase_settings(Config)
    {'DEBUG': True}
    """
    if isinstance(obj, Mapping):
        items: t.Iterable[tuple[t.Any, t.Any]] = obj.items()
    elif isinstance(obj, ModuleType) and "__dir__" not in vars(obj):
        # What dir() gives, without its getattr() per name: apps read many modules.
        items = sorted(vars(obj).items())
    else:
        items = ((name, getattr(obj, name)) for name in dir(obj))
    return {k: v for k, v in items if isinstance(k, str) and k.isupper()}


def import_config_object(module_name: str) -> t.Any:
    """Import a configuration module, or an object as ``module:attr`` or ``module.attr``."""
    path, _, attr = module_name.partition(":")
    if not attr and _is_missing(path) and "." in path:
        path, _, attr = path.rpartition(".")
    if _is_missing(path):
        raise ConfigError(
            f"Configuration module {module_name!r} cannot be found; check the import path "
            "passed to appfactory() and that its distribution is installed."
        )
    try:
        module = importlib.import_module(path)
    except (Exception, SystemExit) as exc:
        raise ConfigError(
            f"Configuration module {path!r} failed to import: {describe_import_error(exc)}. "
            "Fix the error in that module."
        ) from exc
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(
            f"Configuration module {path!r} has no attribute {attr!r}; "
            f"check the spelling of {module_name!r}."
        ) from exc


def _is_missing(path: str) -> bool:
    try:
        return importlib.util.find_spec(path) is None
    except ModuleNotFoundError:
        return True
    except Exception:
        # The parent package itself fails to import: let the import report it.
        return False


class LayerLoader:
    """Applies the layers to a Flask app's config and records their history."""

    def __init__(self, app: Flask, prefix: str, environ: Mapping[str, str]) -> None:
        self.app = app
        self.prefix = prefix
        self.environ = environ
        self.history = ConfigHistory()
        self.conflicts: list[Conflict] = []
        #: Variables read without a known type: ``{key: (variable, text)}``.
        self.untyped_variables: dict[str, tuple[str, str]] = {}
        self.history.record_all(app.config, _FLASK_ORIGIN)

    def set(self, key: str, value: t.Any, origin: Origin) -> None:
        """Set one value and record where it came from."""
        self.app.config[key] = value
        self.history.record(key, value, origin)

    def load(
        self, module_name: t.Any, kwargs_config: Mapping[str, t.Any], instance_file: str
    ) -> list[PackageInfo]:
        """Apply every layer and return the app's packages."""
        upper: list[tuple[Origin, Layered]] = []
        if module_name is not None:
            obj = import_config_object(module_name) if isinstance(module_name, str) else module_name
            upper.append((Origin(Layer.APP, _object_name(module_name)), uppercase_settings(obj)))
        instance = read_instance_file(instance_file)
        upper.append((Origin(Layer.INSTANCE, instance_file), instance.settings))
        upper.append((Origin(Layer.KWARGS, ""), _kwargs_settings(kwargs_config)))

        packages = self._package_list(upper)
        if _PACKAGE_DEFAULTS.get():
            self._apply_package_defaults(packages)
        self._refuse_lower_case_settings(instance_file, instance.other_names, upper)
        for origin, values in upper:
            for key, value in values.items():
                self.set(key, value, Origin(origin.layer, origin.source or key))
        self._apply_environment()
        return packages

    def _package_list(self, upper: list[tuple[Origin, Layered]]) -> list[PackageInfo]:
        merged: Layered = {}
        for _, values in upper:
            merged.update(values)
        for name in (
            "PACKAGES",
            "PACKAGES_EXCLUDE",
            "PACKAGES_ENTRY_POINT_GROUP",
            "PACKAGES_ENTRY_POINTS_EXTRA",
        ):
            raw = self.environ.get(f"{self.prefix}_{name}")
            if raw:
                raw = check_text(f"{self.prefix}_{name}", raw)
                # Parsed as the environment layer will parse it, so that a bad
                # value names the variable.
                merged[name] = self._parse(f"{self.prefix}_{name}", name, raw, merged.get(name))
        refs: list[PackageRef] = resolve_packages(
            merged.get("PACKAGES"),
            merged.get("PACKAGES_EXCLUDE"),
            merged.get("PACKAGES_ENTRY_POINT_GROUP", ENTRY_POINT_GROUP),
            merged.get("PACKAGES_ENTRY_POINTS_EXTRA"),
        )
        return [PackageInfo(ref.name, ref.source) for ref in refs]

    def _apply_package_defaults(self, packages: list[PackageInfo]) -> None:
        owner: dict[str, str] = {}
        defaults: list[tuple[PackageInfo, Layered]] = []
        for info in packages:
            module = import_package_module(info.name, "config")
            if module is None:
                continue
            info.modules["config"] = module
            values = uppercase_settings(module)
            shipped = [key for key in ("SECRET_KEY", "SECRET_KEY_FALLBACKS") if values.get(key)]
            if shipped:
                raise PackageContentError(
                    f"{info.name}.config sets {shipped[0]}, a secret that every install of "
                    f"{info.name!r} would share, so anyone could sign this app's sessions. "
                    f"Remove it from {info.name}.config: the app's key comes from its instance "
                    "folder or its own settings."
                )
            info.config_keys = sorted(values)
            for key in values:
                if key in owner:
                    self.conflicts.append(Conflict("config-default", key, owner[key], (info.name,)))
                else:
                    owner[key] = info.name
            defaults.append((info, values))
        # Lowest precedence first: the last package, so the first one wins.
        for info, values in reversed(defaults):
            self.app.config.update(values)
            self.history.record_all(values, _package_origin(info.name))

    def _refuse_lower_case_settings(
        self, path: str, names: Mapping[str, int], upper: list[tuple[Origin, Layered]]
    ) -> None:
        """An instance file's ``secret_key = ...`` is ignored by Flask: say so, when the
        name in upper case is a setting that something knows."""
        known = set(self.app.config) | set(CORE_OPTIONS)
        for _, values in upper:
            known.update(values)
        for name, line in names.items():
            if name.upper() in known:
                where = f"line {line}" if line else "a name"
                raise ConfigError(
                    f"Instance file {path}, {where}: {name} is not upper-case, so it is not "
                    f"a setting and Flask ignores it. Rename it to {name.upper()}."
                )

    def _apply_environment(self) -> None:
        config = self.app.config
        legacy_source = f"{self.prefix}_APP_CONFIG_ENVS"
        raw_legacy = self.environ.get(legacy_source)
        # Like every variable, a literal list ("['A', 'B']") is parsed, not split.
        legacy = (
            parse_env_value(legacy_source, raw_legacy, None)
            if raw_legacy
            else config.get(legacy_source)
        )
        if legacy is None:
            legacy, legacy_source = config.get("APP_CONFIG_ENVS"), "APP_CONFIG_ENVS"
        for name in legacy_variable_names(legacy, legacy_source) if legacy else []:
            raw = self.environ.get(name)
            if raw:
                self._set_from_variable(name, name, check_text(name, raw))
        for variable, key, raw in prefixed_variables(self.prefix, self.environ):
            self._set_from_variable(variable, key, raw)

    def _set_from_variable(self, variable: str, key: str, raw: str) -> None:
        value = self._parse(variable, key, raw, self.app.config.get(key))
        self.set(key, value, Origin(Layer.ENV, variable))
        self.history.record_text(key, raw)

    def _parse(self, variable: str, key: str, raw: str, current: t.Any) -> t.Any:
        """The value of a variable: of the declared type of its setting, else of the
        kind of the value below it; with neither, any literal (typed again later,
        should an extension declare the setting)."""
        option = CORE_OPTIONS.get(key)
        if option is not None and option.kind is not None:
            why = f"{key} is declared as a {option.kind.__name__} by appfactory.core"
            return parse_as(variable, raw, option.kind, why)
        if current is None:
            self.untyped_variables[key] = (variable, raw)
        else:
            self.untyped_variables.pop(key, None)
        return parse_env_value(variable, raw, current)


_FLASK_ORIGIN = Origin(Layer.FLASK, "")


@functools.lru_cache(maxsize=1024)
def _package_origin(package: str) -> Origin:
    # Shared by every app of the process: an Origin is immutable.
    return Origin(Layer.PACKAGE, f"{package}.config")


def _kwargs_settings(kwargs_config: Mapping[str, t.Any]) -> Layered:
    """The keyword arguments of ``appfactory()``, refusing those that are not UPPERCASE."""
    for key in kwargs_config:
        if not key.isupper():
            raise ConfigError(
                f"appfactory() got the keyword argument "
                f"{key}={masked_repr(key, kwargs_config[key])}"
                f", which is not upper-case, so it would not be a setting. Settings are "
                f"UPPERCASE: write {key.upper()}=...; appfactory()'s own arguments are "
                "module_name, load, instance_path, static_folder, static_url_path, "
                "template_folder, flask_cls and flask_kwargs."
            )
    return dict(kwargs_config)


def _object_name(obj: t.Any) -> str:
    if isinstance(obj, str):
        return obj
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        return type(obj).__name__
    return f"{module}.{name}" if module and module != name else str(name)


def instance_file_path(app: Flask) -> str:
    """The path of the app's instance file."""
    return os.path.join(app.instance_path, f"{app.name}.cfg")
