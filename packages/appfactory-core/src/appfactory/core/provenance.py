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
        # Per key, one flat list [origin, value, origin, value, ...]: one object per
        # key rather than a list of pairs. Every app records one entry per setting
        # and layer, few are ever read back, and each object kept adds to the
        # garbage collector's work for as long as the app lives.
        self._settings: dict[str, list[t.Any]] = {}
        # The text of environment variables, {key: text}, made on first use.
        self._texts: dict[str, str] | None = None

    def record(self, key: str, value: t.Any, origin: Origin) -> None:
        """Note that ``origin`` set ``key`` to ``value``."""
        settings = self._settings.get(key)
        if settings is None:
            self._settings[key] = [origin, value]
        else:
            settings += (origin, value)

    def record_all(self, values: t.Mapping[str, t.Any], origin: Origin) -> None:
        """Note that ``origin`` set every key of ``values`` to its value."""
        recorded = self._settings
        for key, value in values.items():
            settings = recorded.get(key)
            if settings is None:
                recorded[key] = [origin, value]
            else:
                settings += (origin, value)

    def record_text(self, key: str, text: str) -> None:
        """Note the text of the environment variable that gave ``key`` its value."""
        if self._texts is None:
            self._texts = {}
        self._texts[key] = text

    def text(self, key: str) -> str | None:
        """The text of the environment variable behind ``key``'s value, if one gave it."""
        return None if self._texts is None else self._texts.get(key)

    def record_default(self, key: str, value: t.Any, origin: Origin) -> None:
        """Note a default that ``origin`` gave ``key`` below every value it has."""
        settings = self._settings.get(key)
        if settings is None:
            self._settings[key] = [origin, value]
        else:
            settings[0:0] = (origin, value)

    def amend(self, key: str, value: t.Any) -> None:
        """Replace the effective value of ``key``, keeping its origin.

        For readers that convert a value to its setting's type.
        """
        self._settings[key][-1] = value

    def history(self, key: str) -> list[Setting]:
        """All values of ``key``, lowest layer first (empty when never set)."""
        settings = self._settings.get(key, [])
        pairs = zip(settings[::2], settings[1::2], strict=True)
        return [Setting(origin, value) for origin, value in pairs]

    def origin(self, key: str) -> Origin | None:
        """The origin of the effective value of ``key``."""
        settings = self._settings.get(key)
        return t.cast(Origin, settings[-2]) if settings else None

    def shadowed(self, key: str) -> list[Setting]:
        """The values of ``key`` that a higher layer replaced."""
        return self.history(key)[:-1]

    def keys(self) -> list[str]:
        """Every recorded key, sorted."""
        return sorted(self._settings)

    def keys_from(self, *layers: Layer) -> set[str]:
        """Keys that at least one of ``layers`` set."""
        found = set()
        for key, settings in self._settings.items():
            for origin in settings[::2]:
                if origin.layer in layers:
                    found.add(key)
                    break
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._settings
