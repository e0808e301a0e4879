"""The ``SECRET_KEY`` rule: never a known value, generated only in debug or testing."""

from __future__ import annotations

import secrets
import typing as t
import warnings

from flask import Flask

from .errors import AppFactoryWarning, SecretKeyError
from .provenance import Layer, Origin
from .registry import Registry

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


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


class RefuseWithoutSecretKey:
    """WSGI middleware: answer 500 and log why while the app has no secret key.

    Installed as ``app.wsgi_app``, so it guards serving only: request contexts
    made by tasks or tests (``test_request_context``) are not refused.
    """

    def __init__(self, app: Flask, registry: Registry, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.registry = registry
        self.wsgi_app = wsgi_app

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        if self.app.config.get("SECRET_KEY"):
            return self.wsgi_app(environ, start_response)
        message = missing_secret_key_message(self.app, self.registry) or ""
        self.app.logger.error(message, exc_info=SecretKeyError(message))
        body = b"Internal Server Error: the application is not configured; see its log.\n"
        start_response(
            "500 INTERNAL SERVER ERROR",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]


def guard_requests(app: Flask, registry: Registry) -> None:
    """Refuse to serve requests while the app has no secret key."""
    if not app.config.get("SECRET_KEY"):
        app.wsgi_app = RefuseWithoutSecretKey(app, registry, app.wsgi_app)  # type: ignore[method-assign]
