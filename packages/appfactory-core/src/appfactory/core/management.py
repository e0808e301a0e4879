"""The built-in management commands: ``config show``, ``packages`` and ``check``."""

from __future__ import annotations

import difflib
import importlib.metadata
import typing as t

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .checks import check_app
from .errors import ConfigError
from .masking import masked_repr
from .problems import Level
from .provenance import Layer
from .registry import Registry, get_registry
from .templates import package_templates


def _app() -> Flask:
    return t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]


@click.group("config")
def config_group() -> None:
    """Show the configuration and where each setting came from."""


@config_group.command("show")
@click.argument("key", required=False)
@click.option("--history", is_flag=True, help="List every layer that set the key, lowest first.")
@with_appcontext
def config_show(key: str | None, history: bool) -> None:
    """Show effective settings (or KEY) with the layer that set them.

    Secrets are masked.
    """
    app = _app()
    registry = get_registry(app)
    if key is None and history:
        raise click.UsageError(
            "--history needs a KEY: the history of one setting, such as "
            "'config show SECRET_KEY --history'."
        )
    if key is None:
        for name in sorted(app.config):
            click.echo(
                f"{name} = {masked_repr(name, app.config[name])}  [{_origin(registry, name)}]"
            )
        return
    if key not in app.config:
        close = [key.upper()] if key.upper() in app.config else []
        close = close or difflib.get_close_matches(key, sorted(app.config), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"No setting {key!r} in app {app.name!r}.{hint}")
    click.echo(f"{key} = {masked_repr(key, app.config[key])}")
    click.echo(f"  set by: {_origin(registry, key)}")
    settings = registry.history.history(key)
    if history:
        click.echo("  history (lowest first):")
        text = registry.history.text(key)
        # The text kept is that of the last variable that set the key.
        from_text = max(
            (i for i, s in enumerate(settings, 1) if s.origin.layer is Layer.ENV), default=0
        )
        for index, setting in enumerate(settings, 1):
            shown = masked_repr(key, setting.value)
            if index == from_text and text is not None:
                raw = masked_repr(key, text)
                if raw != shown:
                    shown += f" (read from the text {raw})"
            mark = "  <- effective" if index == len(settings) else ""
            click.echo(f"    {index}. {setting.origin}: {shown}{mark}")
    elif len(settings) > 1:
        shadowed = ", ".join(str(s.origin) for s in settings[:-1])
        click.echo(f"  shadows: {shadowed}")


def _origin(registry: Registry, key: str) -> str:
    settings = registry.history.history(key)
    if not settings:
        return "set at run time"
    origin = str(settings[-1].origin)
    current = _app().config.get(key)
    if settings[-1].value is not current and settings[-1].value != current:
        origin += ", then changed at run time"
    return origin


@click.command("packages")
@with_appcontext
def packages_command() -> None:
    """List the packages in resolved order and what each contributes."""
    registry = get_registry(_app())
    registry.prepare_inspection(_app())
    if not registry.packages:
        click.echo("No packages: list them in PACKAGES.")
    for index, info in enumerate(registry.packages, 1):
        click.echo(f"{index}. {info.name} {_version(info.name)}  (from {info.source})")
        blueprints = ", ".join(bp.name for bp in info.blueprints)
        rows = [
            ("modules", ", ".join(sorted(info.modules))),
            ("config", ", ".join(info.config_keys)),
            ("blueprints", blueprints),
            ("url rules", ", ".join(info.url_rules)),
            ("commands", ", ".join(info.commands)),
            ("templates", ", ".join(package_templates(registry, info.name))),
            *((label, ", ".join(items)) for label, items in sorted(info.extras.items())),
        ]
        for label, text in rows:
            click.echo(f"   {label + ':':12} {text or '-'}")
    for entry in registry.extensions:
        commands = ", ".join(registry.extension_commands.get(entry, [])) or "-"
        click.echo(f"extension {entry}  commands: {commands}")


def _version(package: str) -> str:
    top = package.partition(".")[0]
    candidates = [*importlib.metadata.packages_distributions().get(top, []), top]
    for dist in candidates:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "(version unknown)"


@click.command("check")
@click.option(
    "--fail-level",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
    help="Exit non-zero when a problem of this level or above is found.",
)
@with_appcontext
def check_command(fail_level: str) -> None:
    """Check the assembled app for problems (exit 1 at the fail level)."""
    problems = check_app(_app())
    for problem in problems:
        click.echo(str(problem))
    threshold = Level[fail_level.upper()]
    failing = [p for p in problems if p.level >= threshold]
    counts = {level: sum(p.level is level for p in problems) for level in Level}
    summary = ", ".join(f"{counts[level]} {level.name.lower()}" for level in reversed(Level))
    click.echo(f"{len(problems)} problem(s): {summary}." if problems else "No problems found.")
    if failing:
        raise click.exceptions.Exit(1)
