"""The template search order, Jinja extensions and shadowed templates."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask, render_template, render_template_string
from jinja2 import TemplateSyntaxError

from appfactory.core import ConfigError, Level, appfactory, check_app, get_registry
from appfactory.core.templates import template_sources


def render(app: Flask, name: str, **context: t.Any) -> str:
    with app.app_context():
        return render_template(name, **context).strip()


def write_instance_template(instance_path: Path, name: str, source: str) -> None:
    folder = instance_path / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(source)


@pytest.mark.parametrize(
    ("packages", "expected"),
    [
        # pkg_alpha overrides page.html and extends pkg_beta's page_base.html.
        (["pkg_alpha", "pkg_beta"], '<main class="beta-base">alpha page: hi</main>'),
        (["pkg_beta", "pkg_alpha"], '<main class="beta-base">beta page: hi</main>'),
    ],
)
def test_earlier_package_wins(make_app, packages, expected):
    app = make_app(PACKAGES=packages)
    assert render(app, "page.html", greeting="hi") == expected


def test_override_through_a_view_of_the_second_package(make_app):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"], SECRET_KEY="test")
    # pkg_beta's own view renders "page.html": it gets pkg_alpha's override.
    response = app.test_client().get("/beta")
    assert response.text.strip() == '<main class="beta-base">alpha page: beta greeting</main>'


def test_instance_folder_beats_every_package(make_app, instance_path):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"])
    write_instance_template(
        instance_path,
        "page.html",
        '{% extends "page_base.html" %}{% block body %}instance page{% endblock %}',
    )
    assert render(app, "page.html") == '<main class="beta-base">instance page</main>'


def test_instance_folder_overrides_a_base_template(make_app, instance_path):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"])
    write_instance_template(instance_path, "page_base.html", "[{% block body %}{% endblock %}]")
    assert render(app, "page.html", greeting="hi") == "[alpha page: hi]"


def test_template_sources_in_order(make_app):
    app = make_app(PACKAGES=["pkg_plain", "pkg_beta", "pkg_alpha"])
    labels = [label for label, _ in template_sources(app, get_registry(app))]
    assert labels == ["instance folder", "app", "package pkg_beta", "package pkg_alpha"]


def test_template_only_in_a_later_package_is_found(make_app):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"])
    assert render(app, "page_base.html") == '<main class="beta-base"></main>'


# JINJA2_EXTENSIONS


def test_jinja2_extensions_are_added(make_app):
    app = make_app(PACKAGES=["pkg_alpha"], JINJA2_EXTENSIONS=["jinja2.ext.do"])
    with app.app_context():
        text = render_template_string("{% do items.append(2) %}{{ items }}", items=[1])
    assert text == "[1, 2]"
    assert "jinja2.ext.ExprStmtExtension" in app.jinja_env.extensions


def test_without_jinja2_extensions_do_is_unknown(make_app):
    app = make_app(PACKAGES=["pkg_alpha"])
    with app.app_context(), pytest.raises(TemplateSyntaxError, match="'do'"):
        render_template_string("{% do items.append(2) %}", items=[])


def test_jinja2_extensions_keep_flask_options():
    class ExtendedFlask(Flask):
        jinja_options: t.ClassVar[dict[str, t.Any]] = {
            "extensions": ["jinja2.ext.loopcontrols"],
            "trim_blocks": True,
        }

    app = appfactory("testapp", flask_cls=ExtendedFlask, JINJA2_EXTENSIONS=["jinja2.ext.do"])
    assert set(app.jinja_env.extensions) >= {
        "jinja2.ext.LoopControlExtension",
        "jinja2.ext.ExprStmtExtension",
    }
    assert app.jinja_env.trim_blocks is True


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ["jinja2.ext.do", "jinja2.ext.nope"],
            "JINJA2_EXTENSIONS entry 'jinja2.ext.nope' cannot be imported: ImportError: "
            "module 'jinja2.ext' has no attribute 'nope'. Give an import path such as "
            "'jinja2.ext.do', or remove the entry.",
        ),
        (
            ["pkg_no_such_module.Extension"],
            "JINJA2_EXTENSIONS entry 'pkg_no_such_module.Extension' cannot be imported: "
            "ModuleNotFoundError: No module named 'pkg_no_such_module'. Give an import path",
        ),
        (
            ["os.path.join"],
            "JINJA2_EXTENSIONS entry 'os.path.join' is <function join",
        ),
        (
            ["jinja2.ext"],
            "JINJA2_EXTENSIONS entry 'jinja2.ext' is <module 'jinja2.ext'",
        ),
        ("jinja2.ext.do", "JINJA2_EXTENSIONS must be a list of strings, not str 'jinja2.ext.do'"),
        ([None], "JINJA2_EXTENSIONS holds None, which is not a non-empty string"),
    ],
)
def test_bad_jinja2_extensions(make_app, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        make_app(PACKAGES=["pkg_alpha"], JINJA2_EXTENSIONS=value)
    # One line, not werkzeug's page-long ImportStringError.
    assert "\n" not in str(info.value)
    if "cannot be imported" in message:
        assert isinstance(info.value.__cause__, ImportError)
    if " is <" in message:
        assert str(info.value).endswith(
            "not a Jinja extension (a subclass of jinja2.ext.Extension); give an import "
            "path such as 'jinja2.ext.do', or remove the entry."
        )


# check: shadowed templates


def test_check_reports_shadowed_templates(make_app):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"], SECRET_KEY="test")
    problems = [p for p in check_app(app) if p.id == "AF103"]
    assert len(problems) == 1
    assert problems[0].level is Level.INFO
    assert problems[0].name == "template-shadowed"
    assert problems[0].message == (
        "Template 'page.html' comes from the package pkg_alpha, shadowing the package pkg_beta."
    )
    assert "override" in problems[0].hint


def test_check_reports_templates_shadowed_by_the_instance_folder(make_app, instance_path):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"], SECRET_KEY="test")
    write_instance_template(instance_path, "page.html", "instance")
    write_instance_template(instance_path, "page_base.html", "instance base")
    messages = sorted(p.message for p in check_app(app) if p.id == "AF103")
    assert messages == [
        "Template 'page.html' comes from the instance folder, shadowing the package "
        "pkg_alpha, package pkg_beta.",
        "Template 'page_base.html' comes from the instance folder, shadowing the package pkg_beta.",
    ]


def test_no_shadowed_templates_without_overlap(make_app):
    app = make_app(PACKAGES=["pkg_beta"], SECRET_KEY="test")
    assert [p for p in check_app(app) if p.id == "AF103"] == []
