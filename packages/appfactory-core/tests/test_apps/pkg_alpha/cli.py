"""The commands of pkg_alpha: one without and one with the app context."""

import click
from flask import current_app
from flask.cli import with_appcontext

from appfactory.core import get_registry


@click.command("alpha-hello")
def alpha_hello() -> None:
    """Say hello without the app."""
    click.echo("hello from alpha")


@click.command("alpha-app")
@with_appcontext
def alpha_app() -> None:
    """Print the current app's name and whether it is loaded."""
    click.echo(f"app={current_app.name} loaded={get_registry(current_app).loaded}")


commands = [alpha_hello, alpha_app]
