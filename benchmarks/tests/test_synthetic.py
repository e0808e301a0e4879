"""The synthetic packages: what each holds, and the entry points importlib.metadata sees."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

from benchmarks.synthetic import (
    COMMANDS_GROUP,
    INVENIO_BLUEPRINTS_GROUP,
    OURS_GROUP,
    Workspace,
    command_name,
    package_files,
    package_names,
)


def test_a_package_has_five_defaults_three_routes_a_template_a_command_and_a_task() -> None:
    files = package_files("synth_pkg_003")
    for path, text in files.items():
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    config = ast.parse(files["config.py"])
    assert [node.targets[0].id for node in config.body if isinstance(node, ast.Assign)] == [
        "SYNTH_PKG_003_TITLE",
        "SYNTH_PKG_003_PAGE_SIZE",
        "SYNTH_PKG_003_ENABLED",
        "SYNTH_PKG_003_COLORS",
        "SYNTH_PKG_003_OPTIONS",
    ]
    assert files["views.py"].count("@blueprint.route(") == 3
    assert "templates/synth_pkg_003/index.html" in files
    assert command_name("synth_pkg_003") in files["cli.py"]
    assert "@shared_task" in files["tasks.py"]


def test_the_workspace_writes_each_package_once(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    site = workspace.packages(3)
    assert sorted(p.name for p in site.iterdir()) == ["benchapp", *package_names(3)]
    (site / "synth_pkg_000" / "config.py").write_text("changed = True\n")
    workspace.packages(2)
    assert (site / "synth_pkg_000" / "config.py").read_text() == "changed = True\n"
    assert workspace.folder("instance") != workspace.folder("instance")


def test_entry_points_advertise_every_package_in_every_group(tmp_path: Path) -> None:
    folder = Workspace(tmp_path).entry_points(3)
    found = [
        ep
        for dist in importlib.metadata.distributions(path=[str(folder)])
        for ep in dist.entry_points
    ]
    ours = sorted(ep.value for ep in found if ep.group == OURS_GROUP)
    assert ours == package_names(3)
    blueprints = sorted(ep.value for ep in found if ep.group == INVENIO_BLUEPRINTS_GROUP)
    assert blueprints == [f"{name}.views:blueprint" for name in package_names(3)]


def test_each_package_has_a_distribution_declaring_its_command(tmp_path: Path) -> None:
    folder = Workspace(tmp_path).commands(3)
    found = {
        ep.name: ep.value
        for dist in importlib.metadata.distributions(path=[str(folder)])
        for ep in dist.entry_points
        if ep.group == COMMANDS_GROUP
    }
    assert found == {command_name(name): f"{name}.cli:hello" for name in package_names(3)}
