"""One Celery app per Flask app: ``celeryfactory`` and the task loader."""

from __future__ import annotations

import warnings

from flask import Flask
from flask_celeryext import FlaskCeleryExt

from appfactory.core import (
    AppFactoryError,
    ConfigError,
    Option,
    add_check,
    add_inspection_hook,
    add_shell_banner,
    declare_settings,
    get_registry,
    set_setting,
)
from celery import Celery

from .broker import (
    broker_scheme,
    describe_broker,
    embedded_settings,
    filesystem_options,
    following_result_backend,
)
from .checks import celery_problems
from .commandline import told_plainly
from .contexts import AppContextTask
from .database import setup as setup_database
from .discovery import load_tasks as load_package_tasks
from .results import NO_RESULT_BACKEND
from .settings import (
    DICT_KEY,
    SAFE_DEFAULTS,
    CelerySettings,
    celery_options,
    check_serializers,
    collect,
    flask_name,
    warn_unknown,
)
from .state import STATE_KEY, CeleryState, get_state, require_state
from .storepaths import SCHEME
from .validation import unusable_url
from .waiting import FlaskCelery, where_tasks_go

EXTENSION_NAME = "appfactory.celery"


def configure(flask_app: Flask) -> CelerySettings:
    """Complete the app's Celery settings with the safe defaults and the broker.

    Defaults go into ``app.config`` under their ``CELERY_*`` names (so
    ``config show`` tells their origin) only where no setting of the user's,
    under any name, already decides.
    """
    user = collect(flask_app)
    warn_unknown(user)
    added = {name: value for name, value in SAFE_DEFAULTS.items() if name not in user.values}
    # Refused before anything is written: app.config, the embedded broker's folders.
    check_serializers(
        CelerySettings(
            {**added, **user.values}, {**{n: flask_name(n) for n in added}, **user.sources}
        )
    )
    refuse_unusable_urls(user)
    broker = user.values.get("broker_url")
    own = user.values.get("broker_transport_options")
    if broker:
        transport = broker_scheme(broker, user.sources["broker_url"])
        if transport == "filesystem":
            # filesystem:// named explicitly: folders under the instance folder, with
            # the user's options on top of them.
            options = {**filesystem_options(flask_app), **(own or {})}
            added["broker_transport_options"] = options
    else:
        transport = SCHEME
        embedded = embedded_settings(flask_app)
        broker = added["broker_url"] = embedded["broker_url"]
    if not user.values.get("result_backend"):
        backend = following_result_backend(flask_app, transport, broker)
        if backend is not None:
            added["result_backend"] = backend
    for name, value in added.items():
        set_setting(flask_app, flask_name(name), value, owner=EXTENSION_NAME)
    for name, source in user.sources.items():
        if source.startswith(DICT_KEY + "["):
            # Flask's CELERY dict, under the CELERY_* names that config show explains.
            origin = get_registry(flask_app).history.origin(DICT_KEY)
            owner = f"{EXTENSION_NAME}, from {source} of {origin}"
            set_setting(flask_app, flask_name(name), user.values[name], owner=owner)
    declare_settings(flask_app, celery_options(), owner=EXTENSION_NAME)
    if DICT_KEY in flask_app.config:
        declare_settings(flask_app, [Option(DICT_KEY)], owner=EXTENSION_NAME)
    settings = collect(flask_app, celery_dict=False)
    if settings.unknown:
        # Reported by AF301, with Celery's names to choose from, not as unknown to the app.
        unknown = [Option(key) for key, _ in settings.unknown]
        declare_settings(flask_app, unknown, owner=EXTENSION_NAME)
    return settings


def refuse_unusable_urls(user: CelerySettings) -> None:
    """A :class:`~appfactory.core.ConfigError` for a URL no client can read."""
    for name in ("broker_url", "result_backend"):
        value = user.values.get(name)
        urls = value if isinstance(value, (list, tuple)) else str(value or "").split(";")
        for url in urls:
            if isinstance(url, str) and url.strip():
                source = user.sources[name]
                refused = unusable_url(url.strip(), source, broker=name == "broker_url")
                if refused:
                    raise ConfigError(refused)


def _create_celery_app(flask_app: Flask) -> Celery:
    """Create the Celery app of ``flask_app`` (Flask-CeleryExt's hook).

    A new Celery app that is not made current nor default, configured with
    only the Celery settings, with :class:`AppContextTask` as its task base.
    """
    settings = configure(flask_app)
    celery = FlaskCelery(flask_app.name, set_as_current=False, task_cls=AppContextTask)
    # Into the settings Celery reads first: each lookup of a setting (several per
    # task call) is then faster than through a configuration object.
    celery.conf.update(settings.values)
    if settings.values.get("result_backend") in (None, "", "disabled"):
        # Asking for a result then names the setting to set, not just "not implemented".
        celery.backend_cls = NO_RESULT_BACKEND
    celery.flask_app = flask_app
    flask_app.extensions[STATE_KEY] = CeleryState(flask_app, celery, settings)
    add_inspection_hook(flask_app, load_package_tasks)
    add_check(flask_app, celery_problems)
    add_shell_banner(flask_app, shell_banner)
    setup_database(flask_app, celery, EXTENSION_NAME)
    flask_app.logger.info(
        "Celery broker of %s: %s", flask_app.name, describe_broker(settings.values["broker_url"])
    )
    return celery


def shell_banner(flask_app: Flask) -> str:
    """The line ``myapp shell`` prints about where tasks go."""
    return where_tasks_go(flask_app, require_state(flask_app).celery)


def celeryfactory(flask_app: Flask, *, load_tasks: bool = True) -> Celery:
    """The Celery app of ``flask_app``, with every package's ``tasks`` module loaded.

    Created once per Flask app (calling it again returns the same object);
    ``celery.flask_app is flask_app``. With ``load_tasks=False`` the tasks
    are not imported (the web side, which only sends, stays small). For the
    worker::

        # myapp/celery.py
        celery = celeryfactory(create_app())

    >>> from appfactory.core import appfactory
    >>> app = appfactory("dummyapp", None, TESTING=True)
    >>> celeryfactory(app).flask_app is app
    True
    """
    try:
        state = get_state(flask_app)
        if state is None:
            celery = FlaskCeleryExt(flask_app, create_celery_app=_create_celery_app).celery
        else:
            celery = state.celery
        if load_tasks:
            load_package_tasks(flask_app)
    except AppFactoryError as exc:
        if get_registry(flask_app).current_extension is None:
            # Under `celery -A ... worker`: one message, not Celery's chain of tracebacks
            # (not while EXTENSIONS is set up: appfactory() tells that error).
            told_plainly(exc)
        raise
    return celery


def celery_app(flask_app: Flask) -> Celery:
    """Deprecated: use ``celeryfactory(flask_app, load_tasks=False)``."""
    warnings.warn(
        "appfactory.celery.celery_app(app) is deprecated and will be removed in "
        "appfactory-celery 0.3; use celeryfactory(app, load_tasks=False).",
        DeprecationWarning,
        stacklevel=2,
    )
    return celeryfactory(flask_app, load_tasks=False)


def create_celery_app(flask_app: Flask) -> Celery:
    """Deprecated: use ``celeryfactory(flask_app, load_tasks=False)``."""
    warnings.warn(
        "appfactory.celery.create_celery_app(app) is deprecated and will be removed in "
        "appfactory-celery 0.3; use celeryfactory(app, load_tasks=False), which also "
        "returns the app's existing Celery app instead of making a second one.",
        DeprecationWarning,
        stacklevel=2,
    )
    return celeryfactory(flask_app, load_tasks=False)
