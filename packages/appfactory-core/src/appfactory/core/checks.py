"""``check``: problems of an assembled app, each with a stable id and a hint."""

from __future__ import annotations

import difflib

from flask import Flask

from .layout import PACKAGE_DATA_FIX, missing_folders, namespace_folders, namespace_message
from .problems import Check, Level, Problem, check_table
from .provenance import Layer
from .registry import Registry, get_registry
from .secret_key import MIN_KEY_LENGTH, key_file, missing_secret_key_message, where_to_set
from .templates import shadowed_templates

#: The checks of appfactory-core, by id (the checks reference documents each).
CHECKS = check_table(
    Check(
        "AF001",
        "secret-key-missing",
        Level.WARNING,
        "SECRET_KEY is not set for {app!r} and no key file could be kept in {file} "
        "({problem}); the app refuses to serve requests.",
        "{where}",
        "no ``SECRET_KEY``: the app will not serve",
    ),
    Check(
        "AF002",
        "secret-key-generated",
        Level.WARNING,
        "SECRET_KEY comes from {file}, made at random for this instance folder; every host "
        "that serves the app or runs its workers needs the same key.",
        "On several hosts, {where_lower} with the same key on every host.",
        "``SECRET_KEY`` is kept in the instance folder",
    ),
    Check(
        "AF003",
        "secret-key-weak",
        Level.WARNING,
        "SECRET_KEY (set by {origin}) has {length} characters; a guessable key lets anyone "
        "sign sessions.",
        "Use at least {minimum} random characters, such as the output of: python -c "
        '"import secrets; print(secrets.token_hex(32))"',
        "``SECRET_KEY`` is short",
    ),
    Check(
        "AF101",
        "config-default-conflict",
        Level.WARNING,
        "{key} has a default in packages {winner!r} and {losers}; {winner!r} wins because "
        "it comes first in PACKAGES.",
        "Set {key} in the app's configuration to choose, or rename one package's setting.",
        "two packages give a default for one key",
    ),
    Check(
        "AF102",
        "url-rule-conflict",
        Level.WARNING,
        "URL rule {rule!r} is registered by packages {winner!r} and {losers}; {winner!r} "
        "serves it (first in PACKAGES).",
        "Give one blueprint another URL prefix in BLUEPRINTS_URL_PREFIXES.",
        "two packages register the same URL rule",
    ),
    Check(
        "AF103",
        "template-shadowed",
        Level.INFO,
        "Template {template!r} comes from the {winner}, shadowing the {losers}.",
        "Intended for overrides; otherwise rename one of the templates.",
        "a template name is found in several places",
    ),
    Check(
        "AF104",
        "package-folder-missing",
        Level.ERROR,
        "Blueprint {blueprint!r} of package {package!r} has the {kind} folder {path}, "
        "which is not installed; {effect}.",
        "{fix}",
        "a blueprint's template or static folder is not installed",
    ),
    Check(
        "AF105",
        "namespace-package",
        Level.WARNING,
        "{message}",
        "A package of an app needs its __init__.py, even an empty one.",
        "the app or a package is a namespace package (no ``__init__.py``)",
    ),
    Check(
        "AF201",
        "setting-unknown",
        Level.WARNING,
        "{key} (set by {origin}) is used by no package, extension or Flask; did you mean {close}?",
        "Rename it to {close}, or remove it.",
        "a setting looks like a misspelt known setting",
    ),
    Check(
        "AF202",
        "setting-unused",
        Level.INFO,
        "{key} (set by {origin}) has no default in any package, extension or Flask.",
        "Fine for the app's own settings; otherwise check its spelling.",
        "a setting that nothing declares",
    ),
    Check(
        "AF203",
        "variable-empty",
        Level.INFO,
        "Environment variable {variable} is empty and was ignored.",
        "Unset {variable}, or give it a value.",
        "an app variable is set but empty",
    ),
)


def check_app(app: Flask) -> list[Problem]:
    """Every problem found in a loaded app, most serious first."""
    registry = get_registry(app)
    registry.prepare_inspection(app)
    problems = [
        *_secret_key(app, registry),
        *_config_default_conflicts(registry),
        *_url_rule_conflicts(registry),
        *_shadowed_templates(app, registry),
        *_missing_package_folders(registry),
        *_namespace_packages(registry),
        *_unknown_settings(registry),
        *_ignored_variables(registry),
    ]
    for extra_check in registry.checks:
        problems.extend(extra_check(app))
    return sorted(problems, key=lambda p: (-p.level, p.id, p.message))


def _secret_key(app: Flask, registry: Registry) -> list[Problem]:
    where = where_to_set(registry)
    if missing_secret_key_message(app, registry) is not None:
        problem = registry.secret_key_problem or "it was not tried"
        return [
            CHECKS["AF001"].problem(app=app.name, file=key_file(app), problem=problem, where=where)
        ]
    origin = registry.history.origin("SECRET_KEY")
    if origin is not None and origin.layer is Layer.GENERATED:
        where_lower = where[0].lower() + where[1:].rstrip(".")
        return [CHECKS["AF002"].problem(file=origin.source, where_lower=where_lower)]
    key = app.config.get("SECRET_KEY")
    if isinstance(key, (str, bytes)) and len(key) < MIN_KEY_LENGTH:
        return [CHECKS["AF003"].problem(origin=origin, length=len(key), minimum=MIN_KEY_LENGTH)]
    return []


def _losers(names: tuple[str, ...]) -> str:
    return ", ".join(map(repr, names))


def _config_default_conflicts(registry: Registry) -> list[Problem]:
    return [
        CHECKS["AF101"].problem(key=c.name, winner=c.winner, losers=_losers(c.losers))
        for c in registry.conflicts
        if c.kind == "config-default"
    ]


def _url_rule_conflicts(registry: Registry) -> list[Problem]:
    return [
        CHECKS["AF102"].problem(rule=c.name, winner=c.winner, losers=_losers(c.losers))
        for c in registry.conflicts
        if c.kind == "url-rule"
    ]


def _shadowed_templates(app: Flask, registry: Registry) -> list[Problem]:
    return [
        CHECKS["AF103"].problem(template=name, winner=sources[0], losers=", ".join(sources[1:]))
        for name, sources in shadowed_templates(app, registry).items()
    ]


#: What a missing folder of a blueprint breaks.
_EFFECTS = {
    "template": "its pages fail with TemplateNotFound (500)",
    "static": "its static files answer 404",
}


def _missing_package_folders(registry: Registry) -> list[Problem]:
    return [
        CHECKS["AF104"].problem(
            blueprint=bp.name,
            package=info.name,
            kind=kind,
            path=path,
            effect=_EFFECTS[kind],
            fix=PACKAGE_DATA_FIX,
        )
        for info in registry.packages
        for bp in info.blueprints
        for kind, path in missing_folders(bp)
    ]


def _namespace_packages(registry: Registry) -> list[Problem]:
    # The package that holds the app's configuration module, and each package itself:
    # a namespace above them (such as appfactory.*) may be one on purpose.
    named: list[tuple[str, str]] = []
    if isinstance(registry.module_name, str) and "." in registry.module_name:
        named.append(("The app's package", registry.module_name.rpartition(".")[0]))
    named += [("Package", info.name) for info in registry.packages]
    problems, seen = [], set()
    for what, name in named:
        folders = namespace_folders(name)
        if folders is not None and name not in seen:
            seen.add(name)
            problems.append(CHECKS["AF105"].problem(message=namespace_message(name, folders, what)))
    return problems


def _unknown_settings(registry: Registry) -> list[Problem]:
    user_keys = registry.history.keys_from(Layer.APP, Layer.INSTANCE, Layer.KWARGS, Layer.ENV)
    unknown = sorted(key for key in user_keys if not registry.is_declared(key))
    if not unknown:
        return []
    declared = sorted(registry.declared_names())
    problems = []
    for key in unknown:
        origin = registry.history.origin(key)
        close = difflib.get_close_matches(key, declared, n=1, cutoff=0.8)
        if close:
            problems.append(CHECKS["AF201"].problem(key=key, origin=origin, close=close[0]))
        else:
            problems.append(CHECKS["AF202"].problem(key=key, origin=origin))
    return problems


def _ignored_variables(registry: Registry) -> list[Problem]:
    return [CHECKS["AF203"].problem(variable=v) for v in registry.ignored_variables]
