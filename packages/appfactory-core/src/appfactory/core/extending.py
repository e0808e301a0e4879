"""The API for extensions: declare settings, set values, add checks and hooks.

Extensions talk to the factory through these functions (and signals), the
way Flask extensions use ``app.extensions`` and ``app.config``: they never
write into the registry's lists or its history themselves.

>>> from appfactory.core import Option, appfactory, declare_settings
>>> app = appfactory("dummyapp", None, TESTING=True)
>>> declare_settings(app, [Option("GREETER_TEXT", "Hi")], owner="greeter")
>>> app.config["GREETER_TEXT"]
'Hi'
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Iterable, Mapping

from flask import Config, Flask

from .environ import parse_as
from .options import NO_DEFAULT, Option, OptionTable, option_table
from .problems import Problem
from .provenance import Layer, Origin
from .registry import Registry, get_registry

#: The origin's name of values that no extension set up claims.
UNNAMED_EXTENSION = "extension"


def declare_settings(
    app: Flask,
    options: Iterable[Option] | Mapping[str, t.Any],
    *,
    owner: str | None = None,
) -> None:
    """Declare settings: their defaults (set where no layer set the key) and types.

    ``options`` is a table made with :func:`option_table` (best made once, at
    import), a list of :class:`Option`, or a mapping of names to defaults.
    ``owner`` names the declarer in ``config show`` (default: the extension
    being set up). An environment value of a declared setting that was read
    without a known type is read again as the declared type; a text that is
    not of that type is a :class:`~appfactory.core.ConfigError`.
    """
    registry = get_registry(app)
    table = options if isinstance(options, OptionTable) else option_table(options)
    source = _source(registry, owner)
    registry.option_tables.append((source, table))
    config = app.config
    origin = Origin(Layer.EXTENSION, source)
    for option in table.with_defaults:
        if option.name not in config:
            config[option.name] = option.default
            registry.history.record(option.name, option.default, origin)
    for key in [key for key in registry.untyped_variables if key in table]:
        option = table[key]
        default = None if option.default is NO_DEFAULT else option.default
        _type_variable(registry, config, key, option.kind, default, source)


def set_setting(app: Flask, key: str, value: t.Any, *, owner: str | None = None) -> None:
    """Set ``key`` to ``value`` for an extension, recording it as the value's origin."""
    registry = get_registry(app)
    app.config[key] = value
    registry.history.record(key, value, Origin(Layer.EXTENSION, _source(registry, owner)))
    registry.declared_settings.add(key)


def convert_setting(app: Flask, key: str, value: t.Any) -> None:
    """Replace ``key``'s value by the same value converted to its type; its origin stays."""
    registry = get_registry(app)
    app.config[key] = value
    if key in registry.history:
        registry.history.amend(key, value)


def add_check(app: Flask, check: t.Callable[[Flask], list[Problem]]) -> None:
    """Let ``check(app)`` add its problems to those ``myapp check`` reports."""
    registry = get_registry(app)
    if check not in registry.checks:
        registry.checks.append(check)


def add_inspection_hook(app: Flask, hook: t.Callable[[Flask], None]) -> None:
    """Run ``hook(app)`` before ``packages`` and ``check`` read what the app holds.

    For an extension that discovers its modules lazily, such as the packages'
    tasks, which the web side never imports.
    """
    registry = get_registry(app)
    if hook not in registry.before_inspect:
        registry.before_inspect.append(hook)


def add_package_items(app: Flask, package: str, label: str, items: Iterable[str]) -> None:
    """List ``items`` under ``label`` for ``package`` in ``myapp packages``."""
    info = get_registry(app).package(package)
    info.extras.setdefault(label, []).extend(items)


def add_shell_banner(app: Flask, banner: t.Callable[[Flask], str]) -> None:
    """Let ``banner(app)`` add a line to what ``myapp shell`` prints when it starts.

    For what a user needs to know in the shell, such as where tasks sent
    from it go. Mask secrets in it (:func:`~appfactory.core.mask_url`).
    """
    registry = get_registry(app)
    if banner not in registry.shell_banners:
        registry.shell_banners.append(banner)


def shell_banner_lines(app: Flask) -> list[str]:
    """The lines that the extensions add to the shell's banner."""
    return [banner(app) for banner in get_registry(app).shell_banners]


def _source(registry: Registry, owner: str | None) -> str:
    return owner or registry.current_extension or UNNAMED_EXTENSION


def _type_variable(
    registry: Registry,
    config: Config,
    key: str,
    kind: type | None,
    default: t.Any,
    source: str,
) -> None:
    """Read an untyped environment value of ``key`` again, as ``kind``."""
    if kind is None:
        return
    variable, text = registry.untyped_variables.pop(key)
    value = parse_as(variable, text, kind, f"{key} is declared as a {kind.__name__} by {source}")
    config[key] = value
    registry.history.amend(key, value)
    if default is not None:
        registry.history.record_default(key, default, Origin(Layer.EXTENSION, source))


class AppConfig(Config):
    """Flask's config, whose ``setdefault`` declares the setting to the factory.

    Third-party extensions give their defaults with ``app.config.setdefault``
    and know nothing of :func:`declare_settings`; the default's type then
    types an environment value read before it was known
    (``MYAPP_SQLALCHEMY_RECORD_QUERIES=false`` is ``False``, not ``'false'``).
    """

    _appfactory_registry: Registry | None = None

    def setdefault(self, key: t.Any, default: t.Any = None) -> t.Any:
        registry = self._appfactory_registry
        if registry is not None and isinstance(key, str):
            registry.declared_settings.add(key)
            if key in registry.untyped_variables and default is not None:
                source = _source(registry, None)
                _type_variable(registry, self, key, type(default), default, source)
        return super().setdefault(key, default)


@functools.cache
def _typed_config_class(base: type[Config]) -> type[AppConfig]:
    if issubclass(base, AppConfig):
        return base
    if base is Config:
        return AppConfig
    return t.cast(type[AppConfig], type(base.__name__, (AppConfig, base), {}))


def install_typed_config(app: Flask, registry: Registry) -> None:
    """Make ``app.config`` an :class:`AppConfig` that reports to ``registry``."""
    config = app.config
    config.__class__ = _typed_config_class(type(config))
    t.cast(AppConfig, config)._appfactory_registry = registry
