"""The template search order: instance folder, the app, then packages in order."""

from __future__ import annotations

import os

from flask import Flask
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from jinja2.ext import Extension
from werkzeug.utils import ImportStringError, import_string

from .errors import ConfigError, describe_exception
from .packages import string_list
from .registry import Registry


def template_sources(app: Flask, registry: Registry) -> list[tuple[str, BaseLoader]]:
    """``(label, loader)`` pairs in search order, first match wins."""
    sources: list[tuple[str, BaseLoader]] = [
        ("instance folder", FileSystemLoader(os.path.join(app.instance_path, "templates")))
    ]
    if app.template_folder is not None:
        sources.append(("app", FileSystemLoader(os.path.join(app.root_path, app.template_folder))))
    for info in registry.packages:
        for bp in info.blueprints:
            loader = bp.jinja_loader
            if loader is not None:
                sources.append((f"package {info.name}", loader))
    return sources


def install_template_loader(app: Flask, registry: Registry) -> None:
    """Make the app search templates in the factory's order."""
    loader = ChoiceLoader([loader for _, loader in template_sources(app, registry)])
    app.jinja_loader = loader


def add_jinja_extensions(app: Flask) -> None:
    """Add the ``JINJA2_EXTENSIONS`` to the app's Jinja environment options."""
    names = string_list(app.config.get("JINJA2_EXTENSIONS"), "JINJA2_EXTENSIONS")
    if not names:
        return
    for name in names:
        try:
            extension = import_string(name)
        except Exception as exc:
            # werkzeug's ImportStringError is a page of text; name the original error.
            cause = exc.exception if isinstance(exc, ImportStringError) else exc
            raise ConfigError(
                f"JINJA2_EXTENSIONS entry {name!r} cannot be imported: "
                f"{describe_exception(cause)}. Give an import path such as "
                "'jinja2.ext.do', or remove the entry."
            ) from cause
        if not (isinstance(extension, type) and issubclass(extension, Extension)):
            raise ConfigError(
                f"JINJA2_EXTENSIONS entry {name!r} is {extension!r}, not a Jinja extension "
                "(a subclass of jinja2.ext.Extension); give an import path such as "
                "'jinja2.ext.do', or remove the entry."
            )
    options = dict(app.jinja_options)
    options["extensions"] = [*options.get("extensions", ()), *names]
    app.jinja_options = options


def shadowed_templates(app: Flask, registry: Registry) -> dict[str, list[str]]:
    """Template names found in more than one source, with the sources in order.

    The first source serves the template; the others are shadowed.
    """
    seen: dict[str, list[str]] = {}
    for label, loader in template_sources(app, registry):
        try:
            names = loader.list_templates()
        except (TypeError, NotImplementedError):
            continue
        for name in names:
            labels = seen.setdefault(name, [])
            if label not in labels:
                labels.append(label)
    return {name: labels for name, labels in sorted(seen.items()) if len(labels) > 1}


def package_templates(registry: Registry, package: str) -> list[str]:
    """The template names a package's blueprints provide."""
    names: set[str] = set()
    for bp in registry.package(package).blueprints:
        loader = bp.jinja_loader
        if loader is not None:
            names.update(loader.list_templates())
    return sorted(names)
