"""Problems that ``check`` reports, and the declared checks they come from.

Every check is declared once, as data: its stable id and name, its level,
and the templates of its message and hint. A distribution keeps its checks
in one table (see ``CHECKS`` in :mod:`appfactory.core` and
:mod:`appfactory.celery`), from which the checks reference is checked.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass


class Level(enum.IntEnum):
    """How serious a problem is."""

    INFO = 10
    WARNING = 20
    ERROR = 30


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`~appfactory.core.check_app`."""

    id: str
    name: str
    level: Level
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.level.name.lower()} {self.id} {self.name}: {self.message} Hint: {self.hint}"


@dataclass(frozen=True)
class Check:
    """A declared check: what a problem of this id says, with ``{field}`` templates.

    >>> check = Check("XX001", "greeting-empty", Level.WARNING, "{key} is empty.",
    ...               "Give {key} some text.", "a greeting is empty")
    >>> print(check.problem(key="GREETING"))
    warning XX001 greeting-empty: GREETING is empty. Hint: Give GREETING some text.
    """

    id: str
    name: str
    level: Level
    message: str
    hint: str
    #: A few words for the summary table of the checks reference.
    summary: str

    def problem(self, **fields: t.Any) -> Problem:
        """The problem this check reports, its templates filled with ``fields``."""
        return Problem(
            self.id,
            self.name,
            self.level,
            self.message.format(**fields),
            self.hint.format(**fields),
        )


def check_table(*checks: Check) -> dict[str, Check]:
    """``{id: check}``, refusing an id or a name declared twice.

    >>> sorted(check_table(Check("XX001", "a", Level.INFO, "", "", "")))
    ['XX001']
    """
    table: dict[str, Check] = {}
    names: set[str] = set()
    for check in checks:
        if check.id in table or check.name in names:
            raise ValueError(f"Check {check.id} {check.name!r} is declared twice.")
        table[check.id] = check
        names.add(check.name)
    return table
