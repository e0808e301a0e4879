"""The application factory: ``appfactory`` and ``load_application``."""

from __future__ import annotations

import os
import sys
import typing as t
import warnings

from flask import Flask

from .blueprints import register_blueprints
from .commands import package_commands
from .config import LayerLoader, instance_file_path
from .environ import empty_variables, env_prefix, misspelt_variables
from .errors import AppFactoryWarning, ConfigError, describe_exception
from .extending import install_typed_config
from .extensions import load_extensions
from .layout import namespace_folders, namespace_message
from .options import CORE_OPTIONS
from .provenance import Layer
from .registry import EXTENSION_KEY, Registry, get_registry
from .secret_key import check_configured_key, guard_requests, use_instance_key
from .signals import app_created, app_loaded
from .templates import add_jinja_extensions, install_template_loader

AppT = t.TypeVar("AppT", bound=Flask)


def instance_folder(app_name: str, instance_path: str | None = None) -> str:
    """The instance folder of an app: argument, ``<PREFIX>_INSTANCE_PATH``, or default.

    The default is ``<sys.prefix>/var/<app_name>-instance``. A leading ``~`` is
    the user's home; a relative path is refused, since processes started in
    different folders (a worker, a shell) would each use another instance
    folder (and another embedded broker).
    """
    variable = f"{env_prefix(app_name)}_INSTANCE_PATH"
    if instance_path:
        path, source = instance_path, "The instance_path argument of appfactory()"
    elif os.environ.get(variable):
        path, source = os.environ[variable], f"The environment variable {variable}"
    else:
        return os.path.join(sys.prefix, "var", f"{app_name}-instance")
    expanded = os.path.expanduser(os.fspath(path))
    if not os.path.isabs(expanded):
        raise ConfigError(
            f"{source} is the relative path {path!r}, which would name another folder in "
            f"each process started elsewhere (the web side and a worker would not share it). "
            f"Give an absolute path, such as {os.path.abspath(expanded)!r}."
        )
    return os.path.normpath(expanded)


def create_private_folder(path: str, variable: str) -> None:
    """Create ``path`` readable by its owner only (0o700), unless it exists.

    Processes starting together may race to create it: one that finds the
    folder made by another goes on.
    """
    if os.path.isdir(path):
        return
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        if os.path.isdir(path):
            return
        raise ConfigError(
            f"Instance folder {path} cannot be created: a file of that name is in the way. "
            f"Move the file, or choose a writable folder with the environment variable {variable}."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Instance folder {path} cannot be created: {describe_exception(exc)}. "
            f"Choose a writable folder with the environment variable {variable}."
        ) from exc


def make_flask_app(
    app_name: str,
    instance_path: str | None = None,
    static_folder: str | None = None,
    static_url_path: str = "/static",
    template_folder: str | None = "templates",
    flask_cls: type[Flask] = Flask,
    **flask_kwargs: t.Any,
) -> Flask:
    """Create a bare Flask app with its instance folder in place.

    The instance folder is ``instance_path``, else ``<PREFIX>_INSTANCE_PATH``,
    else ``<sys.prefix>/var/<app_name>-instance``, created (mode 0o700) when
    missing. Static files are served from ``static_folder``, else
    ``<PREFIX>_STATIC_FOLDER``, else ``<instance>/static``.
    """
    prefix = env_prefix(app_name)
    folder = instance_folder(app_name, instance_path)
    create_private_folder(folder, f"{prefix}_INSTANCE_PATH")
    static = (
        static_folder or os.environ.get(f"{prefix}_STATIC_FOLDER") or os.path.join(folder, "static")
    )
    flask_kwargs.setdefault("instance_relative_config", True)
    try:
        return flask_cls(
            app_name,
            instance_path=folder,
            static_folder=static,
            static_url_path=static_url_path,
            template_folder=template_folder,
            **flask_kwargs,
        )
    except RuntimeError:
        # Flask finds no root folder for a namespace package; say which file is missing.
        folders = namespace_folders(app_name)
        if folders is None or "root_path" in flask_kwargs:
            raise
        # Flask's message is the cause of this one: not repeated under it.
        raise ConfigError(namespace_message(app_name, folders, "The app")) from None


def base_app(app_name: str, *args: t.Any, **kwargs: t.Any) -> Flask:
    """Deprecated: :func:`appfactory` takes ``instance_path``, ``flask_cls`` and the rest."""
    warnings.warn(
        "appfactory.core.base_app() is deprecated and will be removed in appfactory-core "
        "0.3; call appfactory(app_name, module_name, instance_path=..., flask_cls=...), "
        "which takes the same keyword arguments and also loads the configuration.",
        DeprecationWarning,
        stacklevel=2,
    )
    return make_flask_app(app_name, *args, **kwargs)


def appfactory(
    app_name: str,
    module_name: t.Any = None,
    load: bool = True,
    *,
    instance_path: str | None = None,
    static_folder: str | None = None,
    static_url_path: str = "/static",
    template_folder: str | None = "templates",
    flask_cls: type[Flask] = Flask,
    flask_kwargs: t.Mapping[str, t.Any] | None = None,
    **kwargs_config: t.Any,
) -> Flask:
    """Create a Flask app from its configuration and its packages.

    :param app_name: the app's name; gives the instance file ``<app_name>.cfg``
        and the environment prefix (``myapp`` -> ``MYAPP_``).
    :param module_name: import path of the configuration module (or an object
        holding UPPERCASE settings, or ``None``).
    :param load: ``False`` loads only the configuration (the CLI's fast path);
        finish with :func:`load_application`.
    :param instance_path: the instance folder; else ``<PREFIX>_INSTANCE_PATH``,
        else ``<sys.prefix>/var/<app_name>-instance`` (created, mode 0o700).
    :param static_folder: where static files are served from; else
        ``<PREFIX>_STATIC_FOLDER``, else ``<instance>/static``.
    :param static_url_path: the URL of the static files.
    :param template_folder: the app's own templates, relative to its root.
    :param flask_cls: the class of the app (a subclass of :class:`flask.Flask`).
    :param flask_kwargs: more keyword arguments of ``flask_cls`` (such as
        ``{"subdomain_matching": True}``).
    :param kwargs_config: settings that beat the module and the instance file.

    >>> app = appfactory("dummyapp", None, TESTING=True)
    >>> app.config["TESTING"]
    True
    """
    app = make_flask_app(
        app_name,
        instance_path=instance_path,
        static_folder=static_folder,
        static_url_path=static_url_path,
        template_folder=template_folder,
        flask_cls=flask_cls,
        **(flask_kwargs or {}),
    )
    configure_app(app, module_name, kwargs_config)
    if load:
        load_application(app)
    return app


def configure_app(app: Flask, module_name: t.Any, kwargs_config: t.Mapping[str, t.Any]) -> Registry:
    """Load the configuration layers of a base app and attach its registry."""
    prefix = env_prefix(app.name)
    instance_file = instance_file_path(app)
    loader = LayerLoader(app, prefix, os.environ)
    packages = loader.load(module_name, kwargs_config, instance_file)
    registry = Registry(
        app_name=app.name,
        prefix=prefix,
        history=loader.history,
        instance_file=instance_file,
        module_name=module_name if isinstance(module_name, str) else None,
        packages=packages,
        conflicts=loader.conflicts,
        declared_settings=loader.history.keys_from(Layer.FLASK, Layer.PACKAGE),
        option_tables=[("appfactory.core", CORE_OPTIONS)],
        untyped_variables=loader.untyped_variables,
        ignored_variables=empty_variables(prefix, os.environ),
    )
    app.extensions[EXTENSION_KEY] = registry
    install_typed_config(app, registry)
    check_configured_key(app, registry)
    app_created.send(app)
    return registry


def warn_misspelt_variables(registry: Registry) -> None:
    """Warn about each ``<PREFIX>_`` variable whose name looks like a typo of a setting."""
    history = registry.history
    if all(registry.is_declared(key) for key in history.keys_from(Layer.ENV)):
        return
    for variable, key, close in misspelt_variables(
        registry.prefix, history, registry.declared_names()
    ):
        warnings.warn(
            f"Environment variable {variable} sets {key}, which no package, extension, "
            f"Flask or the app's configuration defines; did you mean {registry.prefix}_{close}? "
            f"Rename the variable, or give {key} a default in the app's configuration if "
            "it is a setting of the app's own.",
            AppFactoryWarning,
            stacklevel=3,
        )


def load_application(app: AppT) -> AppT:
    """Finish an app made with ``load=False``: extensions, blueprints, templates.

    Safe to call again: an app is loaded once.
    """
    registry = get_registry(app)
    if registry.loaded:
        return app
    add_jinja_extensions(app)
    load_extensions(app, registry)
    # After the extensions, which declare their settings: fewer false alarms.
    warn_misspelt_variables(registry)
    register_blueprints(app, registry)
    package_commands(registry)
    install_template_loader(app, registry)
    use_instance_key(app, registry)
    guard_requests(app, registry)
    registry.loaded = True
    app_loaded.send(app)
    return app
