"""The management command of an app: ``clifactory`` and its click group."""

from __future__ import annotations

import contextlib
import os
import sys
import typing as t
import warnings

import click
from click.shell_completion import CompletionItem
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, routes_command, run_command, shell_command
from flask.helpers import get_debug_flag

from .commands import package_commands
from .config import without_package_defaults
from .declared import help_cache
from .errors import AppFactoryError, AppFactoryWarning, describe_exception
from .extending import shell_banner_lines
from .factory import load_application
from .management import check_command, config_group, packages_command
from .masking import mask_url
from .packages import installed_entry_points
from .provenance import Layer, Origin
from .registry import get_registry
from .secret_key import require_secret_key

CreateApp = t.Callable[..., Flask]

#: The file in the instance folder that keeps the declared commands' help texts.
HELP_CACHE_FILE = "command-help.json"


class AppScriptInfo(ScriptInfo):
    """Script info that keeps one app: configured for listing, loaded on demand."""

    def __init__(self, factory: CreateApp, config: dict[str, t.Any], **kwargs: t.Any) -> None:
        # Flask would reset app.debug from FLASK_DEBUG even when it is unset,
        # hiding DEBUG from the configuration layers; configured_app() applies
        # FLASK_DEBUG (or --debug) only when it is given.
        kwargs["set_debug_flag"] = False
        super().__init__(create_app=self.loaded_app, **kwargs)
        self.factory = factory
        self.config = config
        self._configured: Flask | None = None
        self._listing: Flask | None = None

    def configured_app(self) -> Flask:
        """The app with its configuration only (no extensions, no views)."""
        if self._configured is None:
            app = self.factory(load=False, **self.config)
            if os.environ.get("FLASK_DEBUG"):
                registry = get_registry(app)
                app.debug = get_debug_flag()
                registry.history.record("DEBUG", app.debug, Origin(Layer.ENV, "FLASK_DEBUG"))
            self._configured = app
        return self._configured

    def listing_app(self) -> Flask:
        """The app as far as listing its commands needs: no package is imported.

        The configured app when there is one already; otherwise an app whose
        configuration lacks the packages' defaults, used for nothing else.
        """
        if self._configured is not None:
            return self._configured
        if self._listing is None:
            with without_package_defaults():
                self._listing = self.factory(load=False, **self.config)
        return self._listing

    def loaded_app(self) -> Flask:
        """The same app, fully loaded."""
        return load_application(self.configured_app())


@click.pass_context
def _run(ctx: click.Context, /, **kwargs: t.Any) -> None:
    app = ctx.ensure_object(ScriptInfo).load_app()
    require_secret_key(app, get_registry(app))
    ctx.invoke(t.cast(t.Callable[..., t.Any], run_command.callback), **kwargs)


def _checked_port(param: click.Parameter) -> click.Parameter:
    """Flask's ``--port``, refusing a number that is no TCP port (99999 would wrap)."""
    if param.name != "port":
        return param
    return click.Option(
        ["--port", "-p"],
        type=click.IntRange(0, 65535),
        default=param.default,
        help="The port to bind to (0 to 65535).",
    )


guarded_run_command = click.Command(
    "run",
    callback=_run,
    params=[_checked_port(param) for param in run_command.params],
    help=run_command.help,
    short_help=run_command.short_help,
)


@click.pass_context
def _shell(ctx: click.Context, /, **kwargs: t.Any) -> None:
    if sys.stdin is None or sys.stdin.closed:
        name = ctx.find_root().info_name or "the management command"
        raise click.ClickException(
            f"'{name} shell' needs a standard input, and this one is closed: run it in a "
            f"terminal, or give it commands on its input ({name} shell < script.py)."
        )
    app = ctx.ensure_object(ScriptInfo).load_app()
    for line in shell_banner_lines(app):
        click.echo(line, err=True)
    ctx.invoke(t.cast(t.Callable[..., t.Any], shell_command.callback), **kwargs)


guarded_shell_command = click.Command(
    "shell",
    callback=_shell,
    params=shell_command.params,
    help=shell_command.help,
    short_help=shell_command.short_help,
)


class AppFactoryGroup(FlaskGroup):
    """Flask's group with the packages' commands found without loading the app.

    ``--help`` and shell completion list the commands without importing any
    package that declares its commands (see :mod:`.declared`); the packages'
    commands run with the app's configuration, and a command that needs the
    app context gets the fully loaded app.
    """

    _listing = False

    def __init__(self, create_app: CreateApp, config: dict[str, t.Any], **extra: t.Any) -> None:
        traceback_option = click.Option(
            ["--traceback"],
            is_flag=True,
            expose_value=False,
            help="Show the full stack of an error.",
        )
        super().__init__(add_default_commands=False, params=[traceback_option], **extra)
        self.params = [p for p in self.params if p.name != "app"]
        self.factory = create_app
        self.factory_config = config
        for command in (
            guarded_run_command,
            guarded_shell_command,
            routes_command,
            config_group,
            packages_command,
            check_command,
        ):
            self.add_command(command)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        extra.setdefault(
            "obj",
            AppScriptInfo(
                self.factory,
                self.factory_config,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            ),
        )
        return super().make_context(info_name, args, parent=parent, **extra)

    def _load_plugin_commands(self) -> None:
        # Flask's plugin commands (group flask.commands), from appfactory's one scan
        # of the installed distributions: Flask's own would read them all again.
        if self._loaded_plugin_commands:
            return
        for ep in installed_entry_points().select(group="flask.commands"):
            self.add_command(ep.load(), ep.name)
        self._loaded_plugin_commands = True

    def _package_commands(
        self, ctx: click.Context, listing: bool
    ) -> dict[str, tuple[str, click.Command]]:
        info = ctx.ensure_object(ScriptInfo)
        assert isinstance(info, AppScriptInfo)
        app = info.listing_app() if listing else info.configured_app()
        return package_commands(get_registry(app))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        names = set(click.Group.list_commands(self, ctx))
        names.update(self._package_commands(ctx, listing=True))
        return sorted(names)

    @contextlib.contextmanager
    def _listing_commands(self, ctx: click.Context) -> t.Iterator[None]:
        """List the commands from metadata, their help read through the instance's cache."""
        info = ctx.ensure_object(ScriptInfo)
        assert isinstance(info, AppScriptInfo)
        path = os.path.join(info.listing_app().instance_path, HELP_CACHE_FILE)
        self._listing = True
        try:
            with help_cache(path):
                yield
        finally:
            self._listing = False

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._listing_commands(ctx):
            super().format_commands(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        with self._listing_commands(ctx):
            return super().shell_complete(ctx, incomplete)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load_plugin_commands()
        command = click.Group.get_command(self, ctx, name)
        if command is not None:
            return command
        found = self._package_commands(ctx, listing=self._listing).get(name)
        if found is None and self._listing:
            # Listing never loads the app for the commands of its extensions.
            return None
        if found is not None:
            return found[1]
        # Commands that extensions add to app.cli exist only in the loaded app.
        app = ctx.ensure_object(ScriptInfo).load_app()
        if not current_app or current_app._get_current_object() is not app:  # type: ignore[attr-defined]
            ctx.with_resource(app.app_context())
        return app.cli.get_command(ctx, name)

    def main(self, args: t.Sequence[str] | None = None, *rest: t.Any, **kwargs: t.Any) -> t.Any:
        argv = list(sys.argv[1:] if args is None else args)
        warnings.formatwarning = _format_warning
        try:
            return super().main(argv, *rest, **kwargs)
        except AppFactoryError as exc:
            if "--traceback" in argv or "--debug" in argv or get_debug_flag():
                raise
            click.secho(f"Error: {exc}", err=True, fg="red")
            cause = exc.__cause__
            # The cause is library text: a URL in it may hold a password.
            described = mask_url(describe_exception(cause)) if cause is not None else ""
            # Quoted by the message (maybe within a sentence of its own): not repeated.
            if described and described.rstrip(".") not in mask_url(str(exc)):
                click.echo(f"  caused by {described}", err=True)
            click.echo("  (run with --traceback to see the full stack)", err=True)
            sys.exit(1)


_default_formatwarning = warnings.formatwarning


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Format appfactory's warnings as one line on the command line."""
    if issubclass(category, AppFactoryWarning):
        return f"Warning: {message}\n"
    return _default_formatwarning(message, category, filename, lineno, line)


def clifactory(create_app: CreateApp, **config: t.Any) -> click.Group:
    """The management command of the app that ``create_app`` makes.

    ``create_app(load=..., **config)`` is called with ``load=False`` to list and
    run the packages' commands, and the same app is loaded in full when a
    command needs the app context.

    >>> from appfactory.core import appfactory
    >>> cli = clifactory(lambda load=True, **kw: appfactory("dummyapp", None, load=load, **kw))
    >>> sorted(cli.commands)
    ['check', 'config', 'packages', 'routes', 'run', 'shell']
    """
    return AppFactoryGroup(create_app, config, help="Manage the application.")
