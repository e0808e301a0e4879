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
        r"(flask|click|jinja2|blinker|werkzeug|celery|kombu|types|typing|t|collections\.abc)\..*",
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
    if what != "data" or package_name not in ("appfactory.core", "appfactory.celery"):
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
    for package_name in ("appfactory.core", "appfactory.celery", "appfactory.core.testing"):
        package = importlib.import_module(package_name)
        for name in package.__all__:
            if f"{package_name}.{name}" not in documented:
                logging.getLogger(__name__).warning(
                    "%s.%s is in __all__ but on no API page (docs/reference/)",
                    package_name,
                    name,
                )


def setup(app):
    # The pytest plugin's fixtures: ``.. fixture:: app`` and :fixture:`app`.
    app.add_object_type(
        "fixture", "fixture", objname="pytest fixture", indextemplate="pair: %s; pytest fixture"
    )
    app.connect("autodoc-process-docstring", _attribute_docs)
    app.connect("env-check-consistency", _all_documented)
