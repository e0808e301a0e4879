"""The ``SECRET_KEY`` rule: never a known value, and one key per instance folder.

A key configured in a layer of the app (module, instance file, keyword
argument, environment) is used as it is, if it is text. Without one, a
random key is made once and kept in ``<instance>/secret-key`` (mode 0o600),
so that every process of the instance (``myapp run``, gunicorn's workers, the
Celery worker, the shell) signs with the same key, across restarts and
debug reloads. Only an instance folder where no file can be written leaves
the app without a key, and then it refuses to serve.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import typing as t

from flask import Flask

from .errors import ConfigError, SecretKeyError
from .provenance import Layer, Origin
from .registry import Registry

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The file that keeps an instance's generated key.
KEY_FILE = "secret-key"
#: Fewer characters than this make a weak key (``check`` warns).
MIN_KEY_LENGTH = 32

# {path: (mtime_ns, size, key)}: a key file read once per process, unless it changes.
_read_keys: dict[str, tuple[int, int, str]] = {}


def key_file(app: Flask) -> str:
    """The path of the file that keeps the app's generated key."""
    return os.path.join(app.instance_path, KEY_FILE)


def check_configured_key(app: Flask, registry: Registry) -> None:
    """Refuse a configured key that is not text (Flask cannot sign with it)."""
    key = app.config.get("SECRET_KEY")
    if key and not isinstance(key, (str, bytes)):
        raise ConfigError(
            f"SECRET_KEY (set by {registry.history.origin('SECRET_KEY')}) is a "
            f"{type(key).__name__}, not a text: Flask cannot sign sessions with it. Set "
            'it to a string, such as the output of: python -c "import secrets; '
            'print(secrets.token_hex(32))"'
        )


def use_instance_key(app: Flask, registry: Registry) -> None:
    """Without a configured key, use the instance's key file (made on first use).

    Called once the app has loaded: a failed start leaves no file behind.
    """
    if app.config.get("SECRET_KEY"):
        return
    path = key_file(app)
    try:
        key = _read_or_make_key(path)
    except OSError as exc:
        # Without the file name, which may be that of a temporary file.
        registry.secret_key_problem = f"{type(exc).__name__}: {exc.strerror or exc}"
        return
    app.config["SECRET_KEY"] = key
    registry.history.record("SECRET_KEY", key, Origin(Layer.GENERATED, path))


def _read_or_make_key(path: str) -> str:
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    partial = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        try:
            # A link never replaces a file: of two processes starting at once,
            # the second one reads the first one's key.
            os.link(partial, path)
        except FileExistsError:
            return _read_key(path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)
    return key


def _read_key(path: str) -> str:
    info = os.stat(path)
    known = _read_keys.get(path)
    if known is not None and known[:2] == (info.st_mtime_ns, info.st_size):
        return known[2]
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"Key file {path} is not a file; remove it to get a new key.")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"Key file {path} can be read by others (mode {stat.S_IMODE(info.st_mode):#o}); "
            f"make it private with: chmod 600 {path}"
        )
    with open(path, encoding="ascii", errors="replace") as handle:
        key = handle.read().strip()
    if not key:
        raise ConfigError(f"Key file {path} is empty; remove it to get a new key.")
    _read_keys[path] = (info.st_mtime_ns, info.st_size, key)
    return key


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
    reason = ""
    if registry.secret_key_problem:
        reason = f" No key could be kept in {key_file(app)} either ({registry.secret_key_problem})."
    return (
        f"SECRET_KEY is not set for {app.name!r}, and the app refuses to serve without "
        f"one.{reason} {where_to_set(registry)} Generate one "
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
