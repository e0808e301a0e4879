"""The commands of mymodule, added to the app's management command."""

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command()
def testsimple() -> None:
    """Command without application context."""
    click.echo("Test")


@click.command()
@with_appcontext
def testapp() -> None:
    """Command with application context."""
    click.echo(current_app.name)


commands = [testsimple, testapp]
