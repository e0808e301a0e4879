"""The commands of pkg_beta."""

import click


@click.command("beta-hello")
def beta_hello() -> None:
    """Say hello without the app."""
    click.echo("hello from beta")


commands = [beta_hello]
