"""The packages' command-line commands.

A package either declares its commands as metadata (see :mod:`.declared`),
imported when they run, or has a ``<pkg>.cli`` module with a ``commands``
list, imported to list them.
"""

from __future__ import annotations

import click
from flask import Flask

from .declared import package_declarations
from .errors import ConflictError, PackageContentError
from .packages import import_package_module
from .registry import PackageInfo, Registry, get_registry

#: Commands of the management command that packages may not replace.
BUILTIN_COMMANDS = frozenset({"run", "shell", "routes", "config", "packages", "check"})


def package_commands(registry: Registry) -> dict[str, tuple[str, click.Command]]:
    """``{name: (package, command)}`` of every package's commands, found once.

    A package's declared commands are lazy commands,
    imported when they run. Two packages (or a package and a built-in command)
    with the same command name is an error naming both.
    """
    if registry.commands is not None:
        return registry.commands
    found: dict[str, tuple[str, click.Command]] = {}
    for info in registry.packages:
        declared = package_declarations(info.name)
        if declared:
            where = f"the entry points of {info.name!r} in group 'appfactory.commands'"
            commands: list[click.Command] = list(declared)
        else:
            where = f"{info.name}.cli"
            commands = _cli_module_commands(info)
        info.commands = []
        for command in commands:
            name = command.name or ""
            if name in BUILTIN_COMMANDS:
                raise ConflictError(
                    f"Command {name!r} of package {info.name!r} has the name of a built-in "
                    f"command; rename it in {where}."
                )
            if name in found and found[name][0] != info.name:
                raise ConflictError(
                    f"Command {name!r} is defined by packages {found[name][0]!r} and "
                    f"{info.name!r}; rename one of them or remove one package from PACKAGES."
                )
            found[name] = (info.name, command)
            info.commands.append(name)
    registry.commands = found
    return found


def _cli_module_commands(info: PackageInfo) -> list[click.Command]:
    """The ``commands`` list of ``<pkg>.cli`` (none without the module)."""
    module = import_package_module(info.name, "cli")
    if module is None:
        return []
    info.modules["cli"] = module
    where = f"{info.name}.cli"
    commands = getattr(module, "commands", None)
    if not isinstance(commands, (list, tuple)):
        raise PackageContentError(
            f"{where} must define commands = [...], a list of click commands; "
            f"it has {type(commands).__name__}. List the commands to register."
        )
    for index, command in enumerate(commands):
        if not isinstance(command, click.Command):
            raise PackageContentError(
                f"{where}.commands[{index}] is {type(command).__name__} {command!r}, "
                "not a click command; decorate the function with @click.command()."
            )
    return list(commands)


def load_cli(app: Flask, cli: click.Group | None = None) -> click.Group:
    """Register the packages' commands on ``cli`` (default: ``app.cli``).

    For people who run the app with ``flask --app``::

        app = create_app()
        load_cli(app)
    """
    group = app.cli if cli is None else cli
    for name, (_, command) in package_commands(get_registry(app)).items():
        group.add_command(command, name)
    return group
