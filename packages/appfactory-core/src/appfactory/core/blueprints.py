"""Registering the blueprints of the packages' ``views`` modules."""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask

from .errors import ConfigError, ConflictError, PackageContentError
from .packages import import_package_module
from .registry import Conflict, PackageInfo, Registry

_IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})


def package_blueprints(info: PackageInfo) -> list[Blueprint]:
    """The blueprints of a package's ``views`` module (``blueprint`` or ``blueprints``)."""
    views = import_package_module(info.name, "views")
    if views is None:
        return []
    info.modules["views"] = views
    where = f"{info.name}.views"
    found: list[t.Any] = []
    if hasattr(views, "blueprint"):
        found.append(("blueprint", views.blueprint))
    if hasattr(views, "blueprints"):
        listed = views.blueprints
        if not isinstance(listed, (list, tuple)):
            raise PackageContentError(
                f"{where}.blueprints must be a list of flask.Blueprint, not "
                f"{type(listed).__name__}; write blueprints = [blueprint_a, blueprint_b]."
            )
        found.extend((f"blueprints[{i}]", bp) for i, bp in enumerate(listed))
    blueprints: list[Blueprint] = []
    for name, value in found:
        if not isinstance(value, Blueprint):
            raise PackageContentError(
                f"{where}.{name} is {type(value).__name__} {value!r}, not a flask.Blueprint; "
                f"assign a Blueprint instance to it."
            )
        if value in blueprints:
            continue
        twin = next((bp for bp in blueprints if bp.name == value.name), None)
        if twin is not None:
            raise ConflictError(
                f"{where} has two blueprints named {value.name!r}; Flask registers one "
                "blueprint per name. Give each its own name: Blueprint('<name>', __name__)."
            )
        blueprints.append(value)
    return blueprints


def register_blueprints(app: Flask, registry: Registry) -> None:
    """Register every package's blueprints in package order, noting URL conflicts."""
    prefixes = app.config.get("BLUEPRINTS_URL_PREFIXES") or {}
    if not isinstance(prefixes, dict):
        raise ConfigError(
            "BLUEPRINTS_URL_PREFIXES must map blueprint names to URL prefixes, not "
            f"{type(prefixes).__name__}; for example {{'mymodule': '/hello'}}."
        )
    owners: dict[str, str] = {}
    rule_owners: dict[tuple[str, frozenset[str]], str] = {}
    planned = [(info, package_blueprints(info)) for info in registry.packages]
    for info, blueprints in planned:
        for bp in blueprints:
            if bp.name in owners and owners[bp.name] != info.name:
                raise ConflictError(
                    f"Blueprint name {bp.name!r} is registered by packages "
                    f"{owners[bp.name]!r} and {info.name!r}; rename one of the blueprints "
                    "or remove one package from PACKAGES."
                )
            owners[bp.name] = info.name
    for name, prefix in prefixes.items():
        if not (isinstance(prefix, str) and prefix.startswith("/")):
            raise ConfigError(
                f"BLUEPRINTS_URL_PREFIXES gives the blueprint {name!r} the prefix {prefix!r}; "
                "a URL prefix is a string that starts with '/', such as '/hello'."
            )
    unknown = set(prefixes) - set(owners)
    if unknown:
        raise ConfigError(
            f"BLUEPRINTS_URL_PREFIXES names {sorted(unknown)!r}, which no package "
            f"registers; known blueprints: {sorted(owners)!r}."
        )
    for info, blueprints in planned:
        for bp in blueprints:
            options = {"url_prefix": prefixes[bp.name]} if bp.name in prefixes else {}
            app.register_blueprint(bp, **options)
            info.blueprints.append(bp)
    # One pass over the rules once all are registered (Werkzeug builds its list of
    # rules anew at every access): a rule belongs to the package whose blueprint's
    # name begins its endpoint, "blueprint.view".
    infos = {info.name: info for info, _ in planned}
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        package = owners.get(endpoint.partition(".")[0]) if isinstance(endpoint, str) else None
        if package is None:
            continue
        infos[package].url_rules.append(rule.rule)
        signature = (rule.rule, frozenset(rule.methods or ()) - _IGNORED_METHODS)
        owner = rule_owners.setdefault(signature, package)
        if owner != package:
            registry.conflicts.append(Conflict("url-rule", rule.rule, owner, (package,)))
