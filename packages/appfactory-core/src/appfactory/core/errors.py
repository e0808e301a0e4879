"""The exceptions raised by appfactory.

Every message names the thing at fault (package, module, setting, file or
environment variable) and says how to fix it.
"""

from __future__ import annotations


class AppFactoryError(Exception):
    """Base class of every error raised by appfactory."""


class ConfigError(AppFactoryError):
    """A setting, configuration module, instance file or variable is wrong."""


class PackageError(AppFactoryError):
    """A package listed in ``PACKAGES`` cannot be used."""


class PackageNotFoundError(PackageError):
    """A package listed in ``PACKAGES`` is not installed."""


class PackageModuleError(PackageError):
    """A package's module exists but failed to import."""


class PackageContentError(PackageError):
    """A package's module holds something of the wrong kind."""


class ExtensionError(AppFactoryError):
    """An entry of ``EXTENSIONS`` cannot be loaded or failed to set up."""


class ConflictError(AppFactoryError):
    """Two packages claim the same name (blueprint or command)."""


class SecretKeyError(AppFactoryError):
    """The app would serve requests without a ``SECRET_KEY``."""


class AppFactoryWarning(UserWarning):
    """Warnings about a setup that works but deserves attention."""


def describe_exception(exc: BaseException) -> str:
    """One line naming an exception's type and message (its first line: drivers'
    messages often go on with hints and links).

    >>> describe_exception(ZeroDivisionError("division by zero"))
    'ZeroDivisionError: division by zero'
    >>> describe_exception(OSError("connection refused\\n\\tIs the server running?"))
    'OSError: connection refused'
    """
    lines = str(exc).strip().splitlines()
    text = lines[0].rstrip() if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
