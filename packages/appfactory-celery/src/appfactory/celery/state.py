"""What appfactory.celery keeps for each Flask app in ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from celery import Celery

from .errors import NoCeleryAppError
from .routing import CurrentAppSwitch
from .settings import CelerySettings

#: Where this package keeps its state in ``app.extensions``.
STATE_KEY = "appfactory.celery"


@dataclass(frozen=True)
class TaskConflict:
    """Two packages define a task of the same name; Celery runs the winner's."""

    name: str
    winner: str
    loser: str


class CeleryState:
    """The Celery app of one Flask app, its settings and whether tasks are loaded."""

    def __init__(self, flask_app: Flask, celery: Celery, settings: CelerySettings) -> None:
        self.celery = celery
        self.settings = settings
        self.switch = CurrentAppSwitch(flask_app, celery)
        self.tasks_loaded = False
        #: Task names that two packages define, found when the tasks are loaded.
        self.conflicts: list[TaskConflict] = []


def get_state(flask_app: Flask) -> CeleryState | None:
    """The state of ``flask_app``, ``None`` when it has no Celery app yet."""
    state = flask_app.extensions.get(STATE_KEY)
    return state if isinstance(state, CeleryState) else None


def require_state(flask_app: Flask) -> CeleryState:
    """The state of ``flask_app``; an error when it has no Celery app."""
    state = get_state(flask_app)
    if state is None:
        raise NoCeleryAppError(
            f"Flask app {flask_app.name!r} has no Celery app; call "
            "appfactory.celery.celeryfactory(app) or list 'appfactory.celery' in EXTENSIONS."
        )
    return state
