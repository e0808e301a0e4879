"""``check``: problems of an assembled app, each with a stable id and a hint."""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass

from flask import Flask

from .provenance import Layer
from .registry import Registry, get_registry
from .secret_key import missing_secret_key_message, where_to_set
from .templates import shadowed_templates


class Level(enum.IntEnum):
    """How serious a problem is."""

    INFO = 10
    WARNING = 20
    ERROR = 30


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`check_app`."""

    id: str
    name: str
    level: Level
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.level.name.lower()} {self.id} {self.name}: {self.message} Hint: {self.hint}"


def check_app(app: Flask) -> list[Problem]:
    """Every problem found in a loaded app, most serious first."""
    registry = get_registry(app)
    registry.prepare_inspection(app)
    problems = [
        *_secret_key(app, registry),
        *_config_default_conflicts(registry),
        *_url_rule_conflicts(registry),
        *_shadowed_templates(app, registry),
        *_unknown_settings(registry),
        *_ignored_variables(registry),
    ]
    for extra_check in registry.checks:
        problems.extend(extra_check(app))
    return sorted(problems, key=lambda p: (-p.level, p.id, p.message))


def _secret_key(app: Flask, registry: Registry) -> list[Problem]:
    message = missing_secret_key_message(app, registry)
    if message is not None:
        return [
            Problem(
                "AF001",
                "secret-key-missing",
                Level.WARNING,
                f"SECRET_KEY is not set for {app.name!r}; the app refuses to serve requests.",
                where_to_set(registry),
            )
        ]
    origin = registry.history.origin("SECRET_KEY")
    if origin is not None and origin.layer is Layer.GENERATED:
        return [
            Problem(
                "AF002",
                "secret-key-generated",
                Level.WARNING,
                "SECRET_KEY was generated at random because debug or testing is on.",
                where_to_set(registry),
            )
        ]
    return []


def _config_default_conflicts(registry: Registry) -> list[Problem]:
    return [
        Problem(
            "AF101",
            "config-default-conflict",
            Level.WARNING,
            f"{c.name} has a default in packages {c.winner!r} and "
            f"{', '.join(map(repr, c.losers))}; {c.winner!r} wins because it comes "
            "first in PACKAGES.",
            f"Set {c.name} in the app's configuration to choose, or rename one package's setting.",
        )
        for c in registry.conflicts
        if c.kind == "config-default"
    ]


def _url_rule_conflicts(registry: Registry) -> list[Problem]:
    return [
        Problem(
            "AF102",
            "url-rule-conflict",
            Level.WARNING,
            f"URL rule {c.name!r} is registered by packages {c.winner!r} and "
            f"{', '.join(map(repr, c.losers))}; {c.winner!r} serves it (first in PACKAGES).",
            "Give one blueprint another URL prefix in BLUEPRINTS_URL_PREFIXES.",
        )
        for c in registry.conflicts
        if c.kind == "url-rule"
    ]


def _shadowed_templates(app: Flask, registry: Registry) -> list[Problem]:
    return [
        Problem(
            "AF103",
            "template-shadowed",
            Level.INFO,
            f"Template {name!r} comes from the {sources[0]}, shadowing the "
            f"{', '.join(sources[1:])}.",
            "Intended for overrides; otherwise rename one of the templates.",
        )
        for name, sources in shadowed_templates(app, registry).items()
    ]


def _unknown_settings(registry: Registry) -> list[Problem]:
    declared = registry.declared_settings
    user_keys = registry.history.keys_from(Layer.APP, Layer.INSTANCE, Layer.KWARGS, Layer.ENV)
    problems = []
    for key in sorted(user_keys - declared):
        origin = registry.history.origin(key)
        close = difflib.get_close_matches(key, sorted(declared), n=1, cutoff=0.8)
        if close:
            problems.append(
                Problem(
                    "AF201",
                    "setting-unknown",
                    Level.WARNING,
                    f"{key} (set by {origin}) is used by no package, extension or Flask; "
                    f"did you mean {close[0]}?",
                    f"Rename it to {close[0]}, or remove it.",
                )
            )
        else:
            problems.append(
                Problem(
                    "AF202",
                    "setting-unused",
                    Level.INFO,
                    f"{key} (set by {origin}) has no default in any package, extension or Flask.",
                    "Fine for the app's own settings; otherwise check its spelling.",
                )
            )
    return problems


def _ignored_variables(registry: Registry) -> list[Problem]:
    return [
        Problem(
            "AF203",
            "variable-empty",
            Level.INFO,
            f"Environment variable {variable} is empty and was ignored.",
            f"Unset {variable}, or give it a value.",
        )
        for variable in registry.ignored_variables
    ]
