"""The commit race, counted: the web side writes a row and sends a task about it.

Each send is one transaction: add an ``Item``, flush (the row has its id but
is not committed), send ``wdb.tasks.look`` about it, commit. The task, run
by a real worker, writes a ``Seen`` row saying whether it found the item: a
task that ran before the commit misses it. Modes:

``delay``
    plain ``look.delay(id)`` before the commit (the race);
``on_commit``
    ``look.delay_on_commit(id)`` (sent after the commit, or through the
    outbox when the app has it on);
``rollback``
    ``look.delay_on_commit(id)``, then the transaction rolls back: nothing
    may run.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass, field

from flask import Flask

MODES = ("delay", "on_commit", "rollback")


@dataclass
class Race:
    """What became of the sends of one mode."""

    mode: str
    #: Seconds of work between the send and the commit.
    work: float
    sent: int
    #: Tasks that ran at least once.
    completed: int
    #: Runs beyond the first of a task.
    duplicates: int
    #: Runs that did not find their row.
    missed: int
    #: Sent tasks that never ran (for ``rollback``: tasks that did run).
    lost: int
    task_ids: list[str] = field(default_factory=list, repr=False)

    def line(self) -> str:
        return (
            f"commit race ({self.mode}, {self.work * 1000:g} ms before the commit): "
            f"sent={self.sent} completed={self.completed} "
            f"duplicates={self.duplicates} lost={self.lost} missed_rows={self.missed}"
        )


def send(app: Flask, mode: str, count: int, work: float = 0.0) -> list[str]:
    """Send ``count`` tasks in ``mode``, one transaction each; the task ids.

    ``work``: seconds of other work between the send and the commit.
    """
    from wdb.database import db
    from wdb.models import Item
    from wdb.tasks import look

    task_ids = []
    with app.app_context():
        for number in range(count):
            item = Item(name=f"{mode}-{number}")
            db.session.add(item)
            db.session.flush()
            if mode == "delay":
                task_ids.append(str(look.delay(item.id).id))
            else:
                task_ids.append(look.delay_on_commit(item.id))
            if work:
                time.sleep(work)
            if mode == "rollback":
                db.session.rollback()
            else:
                db.session.commit()
    return task_ids


def runs(app: Flask, task_ids: t.Collection[str]) -> list[tuple[str, bool]]:
    """``(task id, found)`` of every run of the given tasks."""
    from wdb.database import db
    from wdb.models import Seen

    wanted = set(task_ids)
    with app.app_context():
        rows = db.session.execute(db.select(Seen.task_id, Seen.found)).all()
    return [(task_id, found) for task_id, found in rows if task_id in wanted]


def wait_for(app: Flask, task_ids: t.Collection[str], seconds: float) -> bool:
    """Wait until every one of ``task_ids`` ran at least once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len({task_id for task_id, _ in runs(app, task_ids)}) >= len(set(task_ids)):
            return True
        time.sleep(0.1)
    return False


def tally(app: Flask, mode: str, task_ids: list[str], work: float = 0.0) -> Race:
    """Count what became of ``task_ids``."""
    found = runs(app, task_ids)
    ran = {task_id for task_id, _ in found}
    completed = len(ran)
    lost = completed if mode == "rollback" else len(task_ids) - completed
    return Race(
        mode,
        work,
        sent=len(task_ids),
        completed=completed,
        duplicates=len(found) - completed,
        missed=sum(1 for _, was_found in found if not was_found),
        lost=lost,
        task_ids=task_ids,
    )


def run_race(app: Flask, mode: str, count: int, seconds: float = 120, work: float = 0.0) -> Race:
    """Send in ``mode``, wait for the runs (or, after a rollback, for a later task), count."""
    from wdb.tasks import look

    task_ids = send(app, mode, count, work)
    if mode == "rollback":
        # A task sent after them on the same queue: once it ran (a solo worker
        # takes tasks in order), any of them that had been sent would have too.
        with app.app_context():
            marker = str(look.delay(-1).id)
        assert wait_for(app, [marker], seconds), "the marker task did not run"
        time.sleep(0.5)
    else:
        wait_for(app, task_ids, seconds)
    return tally(app, mode, task_ids, work)
