"""Sphinx configuration of the appfactory documentation.

The packages are imported for autodoc, so build the docs in an environment
where appfactory-core, appfactory-celery, mymodule and myapp are installed
(``nox -s docs``).
"""

from __future__ import annotations

from appfactory.core import __version__

project = "appfactory"
author = "the appfactory authors"
copyright = "appfactory authors"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
root_doc = "index"

# Every reference must resolve; names from other projects are listed below
# because no inventory is fetched (the docs build without network).
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(flask|click|jinja2|blinker|werkzeug|celery|kombu|sqlalchemy|types|typing|t|"
        r"collections\.abc)\..*",
    ),
]
nitpick_ignore = [
    # Names that autodoc prints from annotations without a page to link to:
    # Flask's class written unqualified, and the factory's type variable.
    ("py:class", "Flask"),
    ("py:class", "appfactory.core.factory.AppT"),
    # The standard library's, in the signatures of appfactory.core.testing.
    ("py:class", "os.PathLike"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

# Doctests never touch the real instance folders: every app made by an
# example (``dummyapp``, ``myapp``, ``greeter``) gets one under a temporary folder.
doctest_global_setup = """
import os as _os
import tempfile as _tempfile

_doctest_root = _tempfile.mkdtemp(prefix="appfactory-doctest-")
for _name in ("DUMMYAPP", "MYAPP", "GREETER"):
    _os.environ[f"{_name}_INSTANCE_PATH"] = _os.path.join(_doctest_root, _name.lower())
"""
doctest_global_cleanup = """
import shutil as _shutil

_shutil.rmtree(_doctest_root, ignore_errors=True)
"""

html_theme = "alabaster"
html_title = f"appfactory {release}"
html_theme_options = {
    "description": "Assemble a Flask application from reusable packages.",
    "fixed_sidebar": True,
}


def _attribute_docs(_app, what, name, obj, _options, lines):
    """Give re-exported data the ``#:`` comment of the module that defines it.

    autodoc reads such comments from the module named in the directive,
    ``appfactory.core`` or ``appfactory.celery``, where the data (the signals,
    ``__version__``) is only imported; without this the page would show the
    docstring of the value's class instead (blinker's signal class, ``str``).
    """
    package_name, _, short = name.rpartition(".")
    if what != "data" or package_name not in (
        "appfactory.core",
        "appfactory.celery",
        "appfactory.sqlalchemy",
    ):
        return
    import importlib
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    package = importlib.import_module(package_name)
    del lines[:]
    for info in pkgutil.iter_modules(package.__path__):
        modname = f"{package_name}.{info.name}"
        if getattr(importlib.import_module(modname), short, None) is not obj:
            continue
        doc = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", short))
        if doc:
            lines.extend(doc)
            return


def _all_documented(_app, env):
    """Warn (an error under ``-W``) about a name of ``__all__`` without an entry.

    The API pages list the names one by one, in sections; this keeps them
    complete when a package exports something new.
    """
    import importlib

    from sphinx.util import logging

    documented = env.get_domain("py").objects
    for package_name in (
        "appfactory.core",
        "appfactory.celery",
        "appfactory.sqlalchemy",
        "appfactory.core.testing",
        "appfactory.sqlalchemy.testing",
    ):
        package = importlib.import_module(package_name)
        for name in package.__all__:
            if f"{package_name}.{name}" not in documented:
                logging.getLogger(__name__).warning(
                    "%s.%s is in __all__ but on no API page (docs/reference/)",
                    package_name,
                    name,
                )


#: The distributions whose ``CHECKS`` table the checks reference lists, in order.
CHECK_TABLES = ("appfactory.core", "appfactory.celery", "appfactory.sqlalchemy")


def declared_checks():
    """Every declared check of the distributions in :data:`CHECK_TABLES`, by id."""
    import importlib

    checks = {}
    for package_name in CHECK_TABLES:
        checks.update(importlib.import_module(package_name).CHECKS)
    return dict(sorted(checks.items()))


def _checks_table_directive():
    """``.. appfactory-checks::``: the summary table of every declared check."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class ChecksTable(SphinxDirective):
        def run(self):
            rows = [
                (f":ref:`{c.id} <{c.id}>`", f"``{c.name}``", c.level.name.lower(), c.summary)
                for c in declared_checks().values()
            ]
            header = ("Id", "Name", "Level", "In short")
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
            rule = "  ".join("=" * w for w in widths)
            lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), rule]
            lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
            lines.append(rule)
            container = nodes.container()
            self.state.nested_parse(StringList(lines, source="checks"), 0, container)
            return container.children

    return ChecksTable


def checks_drift(text, checks, prefixes=("AF",)):
    """What differs between the checks reference ``text`` and the declared ``checks``.

    A declared check needs a section ``.. _<id>:`` titled ``<id> ``<name>``
    (<level>)``; a section of an id that starts with one of ``prefixes`` needs a
    declared check. Returns one line per difference.
    """
    import re

    title = re.compile(r"^(AF\d{3}) ``([a-z0-9-]+)`` \((\w+)\)$", re.M)
    sections = {m[0]: m for m in title.findall(text) if m[0].startswith(prefixes)}
    labels = {m for m in re.findall(r"^\.\. _(AF\d{3}):$", text, re.M) if m.startswith(prefixes)}
    drift = []
    for check in checks.values():
        expected = (check.id, check.name, check.level.name.lower())
        if sections.get(check.id) != expected or check.id not in labels:
            drift.append(
                f"no section '.. _{check.id}:' titled '{check.id} ``{check.name}`` ({expected[2]})'"
            )
    for check_id in sorted((set(sections) | labels) - set(checks)):
        drift.append(f"{check_id} is documented, but no CHECKS declares it")
    return drift


def _checks_documented(app, _env):
    """Warn (an error under ``-W``) when the checks reference and the declared checks
    differ."""
    from pathlib import Path

    from sphinx.util import logging

    text = (Path(app.srcdir) / "reference" / "checks.rst").read_text(encoding="utf-8")
    for line in checks_drift(text, declared_checks()):
        logging.getLogger(__name__).warning("docs/reference/checks.rst: %s", line)


def setup(app):
    # The pytest plugin's fixtures: ``.. fixture:: app`` and :fixture:`app`.
    app.add_object_type(
        "fixture", "fixture", objname="pytest fixture", indextemplate="pair: %s; pytest fixture"
    )
    app.connect("autodoc-process-docstring", _attribute_docs)
    app.connect("env-check-consistency", _all_documented)
    app.add_directive("appfactory-checks", _checks_table_directive())
    app.connect("env-check-consistency", _checks_documented)
