"""An error met while a ``celery`` command (``celery -A myapp.celery worker``) loads the app.

Celery shows such an error as the whole chain of tracebacks, its own frames
first, before the message that names the culprit. An appfactory error met
there is shown as the management command shows it: one ``Error:`` line, its
cause and where the cause was raised; ``FLASK_DEBUG=1`` shows the stack.
"""

from __future__ import annotations

import sys
import traceback
import typing as t

import click
from flask.helpers import get_debug_flag

from appfactory.core import AppFactoryError, describe_exception, mask_url
from celery.app.utils import find_app

_FIND_APP = find_app.__code__


def loaded_by_celery_command() -> bool:
    """Whether the app is being loaded by Celery's ``-A``/``--app`` option."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _FIND_APP:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def exit_with(error: AppFactoryError) -> t.NoReturn:
    """Say ``error`` in one message on standard error and exit with status 1."""
    click.secho(f"Error: {error}", err=True, fg="red")
    cause = error.__cause__
    if cause is not None:
        described = mask_url(describe_exception(cause))
        if described.rstrip(".") not in mask_url(str(error)):
            click.echo(f"  caused by {described}", err=True)
        frames = traceback.extract_tb(cause.__traceback__)
        if frames:
            click.echo(f"  raised at {frames[-1].filename}, line {frames[-1].lineno}", err=True)
    click.echo("  (set FLASK_DEBUG=1 to see the full stack)", err=True)
    sys.exit(1)


def told_plainly(error: AppFactoryError) -> None:
    """Exit with ``error`` in one message when a celery command loads the app."""
    if loaded_by_celery_command() and not get_debug_flag():
        exit_with(error)
