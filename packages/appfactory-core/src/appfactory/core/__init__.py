"""appfactory.core: assemble a Flask application from reusable packages."""

from __future__ import annotations

from .checks import CHECKS, check_app
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
from .extending import (
    add_check,
    add_inspection_hook,
    add_package_items,
    add_shell_banner,
    convert_setting,
    declare_settings,
    set_setting,
)
from .factory import appfactory, load_application
from .masking import is_secret_name, mask_url, mask_value, masked_repr
from .options import CORE_OPTIONS, NO_DEFAULT, Option, OptionTable, option_table
from .packages import discover_modules, import_package_module
from .problems import Check, Level, Problem, check_table
from .provenance import Layer, Origin, Setting
from .registry import Registry, get_registry
from .signals import app_created, app_loaded
from .version import __version__

__all__ = [
    "CHECKS",
    "CORE_OPTIONS",
    "NO_DEFAULT",
    "AppFactoryError",
    "AppFactoryWarning",
    "Check",
    "ConfigError",
    "ConflictError",
    "ExtensionError",
    "Layer",
    "Level",
    "Option",
    "OptionTable",
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
    "add_check",
    "add_inspection_hook",
    "add_package_items",
    "add_shell_banner",
    "app_created",
    "app_loaded",
    "appfactory",
    "check_app",
    "check_table",
    "clifactory",
    "convert_setting",
    "declare_settings",
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
    "option_table",
    "set_setting",
]

# Deprecated (it warns), importable until appfactory-core 0.3: appfactory() takes
# its arguments.
from .factory import base_app as base_app
