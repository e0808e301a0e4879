"""Metric ``cold_cli_package_command``: a package's command that needs no app context.

As :mod:`benchmarks.cli_help`, with ``synth-pkg-000-hello`` instead of
``--help``: Flask (and invenio-base's ``create_cli``) load the whole app to
find the command; ours finds it from the configuration alone.
"""

from __future__ import annotations

from benchmarks.cli_help import run_case
from benchmarks.harness import Context, Metric
from benchmarks.synthetic import command_name, package_name

NAME = "cold_cli_package_command"
METRICS = (NAME,)


def run(ctx: Context) -> list[Metric]:
    package = package_name(0)
    return [run_case(ctx, NAME, [command_name(package)], f"hello from {package}", False)]
