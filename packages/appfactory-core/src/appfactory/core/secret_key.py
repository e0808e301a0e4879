"""The ``SECRET_KEY`` rule: never a known value, generated only in debug or testing."""

from __future__ import annotations

import secrets
import warnings

from flask import Flask

from .errors import AppFactoryWarning, SecretKeyError
from .provenance import Layer, Origin
from .registry import Registry


def ensure_secret_key(app: Flask, registry: Registry) -> None:
    """Generate a random key in debug or testing when none is configured."""
    if app.config.get("SECRET_KEY") or not (app.debug or app.testing):
        return
    key = secrets.token_hex(32)
    app.config["SECRET_KEY"] = key
    registry.history.record("SECRET_KEY", key, Origin(Layer.GENERATED, "debug or testing"))
    warnings.warn(
        f"SECRET_KEY is not set for {app.name!r}; a random key was generated because "
        "debug or testing is on. Sessions will not survive a restart. "
        f"{where_to_set(registry)}",
        AppFactoryWarning,
        stacklevel=3,
    )


def where_to_set(registry: Registry) -> str:
    """Where a user can set the secret key."""
    return (
        f"Set SECRET_KEY in the instance file {registry.instance_file} or in the "
        f"environment variable {registry.prefix}_SECRET_KEY."
    )


def missing_secret_key_message(app: Flask, registry: Registry) -> str | None:
    """The error for an app that has no secret key, ``None`` when it has one."""
    if app.config.get("SECRET_KEY"):
        return None
    return (
        f"SECRET_KEY is not set for {app.name!r}, and the app refuses to serve without "
        f"one (outside debug and testing). {where_to_set(registry)} Generate one "
        'with: python -c "import secrets; print(secrets.token_hex(32))"'
    )


def require_secret_key(app: Flask, registry: Registry) -> None:
    """Raise :class:`SecretKeyError` when the app has no secret key."""
    message = missing_secret_key_message(app, registry)
    if message is not None:
        raise SecretKeyError(message)


def guard_requests(app: Flask, registry: Registry) -> None:
    """Refuse requests while the app has no secret key."""
    if app.config.get("SECRET_KEY"):
        return

    def refuse_without_secret_key() -> None:
        require_secret_key(app, registry)

    app.before_request(refuse_without_secret_key)
