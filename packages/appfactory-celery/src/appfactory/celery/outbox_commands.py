"""``myapp outbox``: how many tasks wait in the outbox, and relaying them by hand.

Added to ``app.cli`` by the ``"appfactory.celery"`` extension; the management
command finds it in the loaded app. SQLAlchemy is imported only when one of
these commands runs.
"""

from __future__ import annotations

import datetime

import click
from flask import current_app

from appfactory.core import AppFactoryError

from .factory import celeryfactory
from .sessions import OUTBOX, outbox_enabled


@click.group("outbox")
def outbox_group() -> None:
    """The outbox of tasks committed with their data (TASKS_OUTBOX)."""


@outbox_group.command("status")
def status_command() -> None:
    """Show how many tasks wait in the outbox, and how many failed."""
    from .outbox import outbox_status, require_outbox

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not outbox_enabled(app):
        click.echo(f"The outbox is off ({OUTBOX} = False): tasks sent on commit go to the broker.")
        return
    found = outbox_status(require_outbox(app))
    line = f"{found.waiting} task(s) wait in the outbox"
    if found.oldest is not None:
        age = datetime.datetime.now(datetime.UTC) - _aware(found.oldest)
        line += f", the oldest since {found.oldest:%Y-%m-%d %H:%M:%S} ({age.total_seconds():.0f} s)"
    click.echo(f"{line}; {found.failed} failed.")
    if found.last_error:
        click.echo(f"Last error of the oldest: {found.last_error}")
    if found.failed:
        click.echo(
            "Failed tasks were refused by the broker and are not relayed again; the "
            "worker's log names each one."
        )


@outbox_group.command("relay")
def relay_command() -> None:
    """Relay the waiting tasks to the broker now, until none wait."""
    from .outbox import relay_once, require_outbox

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    engine = require_outbox(app)
    celery = celeryfactory(app, load_tasks=False)
    sent = failed = 0
    while True:
        done = relay_once(celery, engine)
        sent, failed = sent + done.sent, failed + done.failed
        if done.busy:
            raise AppFactoryError(
                "Another relay (a worker, or this command) is relaying the outbox now; "
                "try again when it is done."
            )
        if done.error is not None:
            raise AppFactoryError(
                f"Relayed {sent} task(s), then the broker could not be reached ({done.error}); "
                "the others wait in the outbox. Start the broker, then run this again."
            )
        if not done.full:
            break
    click.echo(f"Relayed {sent} task(s) to the broker; {failed} refused and marked failed.")


def _aware(moment: datetime.datetime) -> datetime.datetime:
    # SQLite gives back naive datetimes (they were written in UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
