"""Where each setting came from: the layers and the history of every key."""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass


class Layer(enum.IntEnum):
    """The configuration layers, lowest precedence first."""

    FLASK = 0
    PACKAGE = 1
    APP = 2
    INSTANCE = 3
    KWARGS = 4
    ENV = 5
    EXTENSION = 6
    GENERATED = 7

    @property
    def label(self) -> str:
        """A short human name of the layer."""
        return _LABELS[self]


_LABELS = {
    Layer.FLASK: "Flask default",
    Layer.PACKAGE: "package default",
    Layer.APP: "app config",
    Layer.INSTANCE: "instance file",
    Layer.KWARGS: "keyword argument",
    Layer.ENV: "environment variable",
    Layer.EXTENSION: "extension",
    Layer.GENERATED: "generated",
}


@dataclass(frozen=True)
class Origin:
    """One source of settings: a layer and what in it (module, file, variable)."""

    layer: Layer
    source: str

    def __str__(self) -> str:
        return f"{self.layer.label} ({self.source})" if self.source else self.layer.label


@dataclass(frozen=True)
class Setting:
    """A value that one origin gave to a key."""

    origin: Origin
    value: t.Any


class ConfigHistory:
    """Every value each key was given, in the order the layers applied them.

    The last entry of a key is its effective value; earlier entries are the
    values it shadowed.

    >>> history = ConfigHistory()
    >>> history.record("GREETING", "Hi", Origin(Layer.PACKAGE, "mymodule.config"))
    >>> history.record("GREETING", "Hello", Origin(Layer.ENV, "MYAPP_GREETING"))
    >>> str(history.origin("GREETING"))
    'environment variable (MYAPP_GREETING)'
    >>> [s.value for s in history.shadowed("GREETING")]
    ['Hi']
    """

    def __init__(self) -> None:
        self._settings: dict[str, list[Setting]] = {}

    def record(self, key: str, value: t.Any, origin: Origin) -> None:
        """Note that ``origin`` set ``key`` to ``value``."""
        self._settings.setdefault(key, []).append(Setting(origin, value))

    def amend(self, key: str, value: t.Any) -> None:
        """Replace the effective value of ``key``, keeping its origin.

        For readers that convert a value to its setting's type.
        """
        last = self._settings[key][-1]
        self._settings[key][-1] = Setting(last.origin, value)

    def history(self, key: str) -> list[Setting]:
        """All values of ``key``, lowest layer first (empty when never set)."""
        return list(self._settings.get(key, ()))

    def origin(self, key: str) -> Origin | None:
        """The origin of the effective value of ``key``."""
        settings = self._settings.get(key)
        return settings[-1].origin if settings else None

    def shadowed(self, key: str) -> list[Setting]:
        """The values of ``key`` that a higher layer replaced."""
        return self.history(key)[:-1]

    def keys(self) -> list[str]:
        """Every recorded key, sorted."""
        return sorted(self._settings)

    def keys_from(self, *layers: Layer) -> set[str]:
        """Keys that at least one of ``layers`` set."""
        wanted = set(layers)
        return {
            key
            for key, settings in self._settings.items()
            if any(s.origin.layer in wanted for s in settings)
        }

    def __contains__(self, key: object) -> bool:
        return key in self._settings
