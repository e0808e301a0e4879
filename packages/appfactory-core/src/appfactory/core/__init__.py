"""appfactory.core: assemble a Flask application from reusable packages."""

from __future__ import annotations

from .checks import Level, Problem, check_app
from .cli import clifactory
from .commands import load_cli
from .errors import (
    AppFactoryError,
    AppFactoryWarning,
    ConfigError,
    ConflictError,
    ExtensionError,
    PackageContentError,
    PackageError,
    PackageModuleError,
    PackageNotFoundError,
    SecretKeyError,
    describe_exception,
)
from .factory import appfactory, base_app, load_application
from .masking import is_secret_name, mask_url, mask_value, masked_repr
from .packages import discover_modules, import_package_module
from .provenance import Layer, Origin, Setting
from .registry import Registry, get_registry
from .signals import app_created, app_loaded
from .version import __version__

__all__ = [
    "AppFactoryError",
    "AppFactoryWarning",
    "ConfigError",
    "ConflictError",
    "ExtensionError",
    "Layer",
    "Level",
    "Origin",
    "PackageContentError",
    "PackageError",
    "PackageModuleError",
    "PackageNotFoundError",
    "Problem",
    "Registry",
    "SecretKeyError",
    "Setting",
    "__version__",
    "app_created",
    "app_loaded",
    "appfactory",
    "base_app",
    "check_app",
    "clifactory",
    "describe_exception",
    "discover_modules",
    "get_registry",
    "import_package_module",
    "is_secret_name",
    "load_application",
    "load_cli",
    "mask_url",
    "mask_value",
    "masked_repr",
]
