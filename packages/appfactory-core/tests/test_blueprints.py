"""The packages' blueprints, URL prefixes, static files and conflicts."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from appfactory.core import (
    ConfigError,
    ConflictError,
    Level,
    PackageContentError,
    check_app,
    get_registry,
    load_application,
)
from appfactory.core.provenance import Layer
from appfactory.core.registry import Conflict


def views_source(name: str, *routes: tuple[str, str], methods: str = "['GET']") -> str:
    """A ``views.py`` with blueprint ``name`` answering ``text`` at each ``rule``."""
    lines = ["from flask import Blueprint", f"blueprint = Blueprint({name!r}, __name__)"]
    for index, (rule, text) in enumerate(routes):
        lines += [
            f"@blueprint.route({rule!r}, methods={methods})",
            f"def view_{index}():",
            f"    return {text!r}",
        ]
    return "\n".join(lines) + "\n"


def test_blueprint_attribute(make_app):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"], SECRET_KEY="test")
    assert list(app.blueprints) == ["pkg_alpha", "pkg_beta"]
    info = get_registry(app).package("pkg_alpha")
    assert [bp.name for bp in info.blueprints] == ["pkg_alpha"]
    assert "/alpha" in info.url_rules
    assert "/pkg_alpha/static/<path:filename>" in info.url_rules
    response = app.test_client().get("/alpha")
    assert response.status_code == 200
    assert "alpha page: Hello from alpha" in response.text


def test_blueprints_attribute(make_app, make_package):
    make_package(
        "pkg_multi",
        {
            "views.py": """
                from flask import Blueprint

                first = Blueprint("pkg_multi_first", __name__)
                second = Blueprint("pkg_multi_second", __name__, url_prefix="/second")

                @first.route("/first")
                def one():
                    return "first"

                @second.route("/")
                def two():
                    return "second"

                blueprint = first
                blueprints = (first, second)
            """
        },
    )
    app = make_app(PACKAGES=["pkg_multi"], SECRET_KEY="test")
    info = get_registry(app).package("pkg_multi")
    # ``blueprint`` and ``blueprints`` together, the same blueprint counted once.
    assert [bp.name for bp in info.blueprints] == ["pkg_multi_first", "pkg_multi_second"]
    assert info.url_rules == ["/first", "/second/"]
    client = app.test_client()
    assert client.get("/first").text == "first"
    assert client.get("/second/").text == "second"


def test_views_without_blueprint_is_fine(make_app, make_package):
    make_package("pkg_noblueprint", {"views.py": "HELPER = 1\n"})
    app = make_app(PACKAGES=["pkg_noblueprint"])
    info = get_registry(app).package("pkg_noblueprint")
    assert "views" in info.modules
    assert info.blueprints == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "blueprint = 'x'",
            "pkg_bad.views.blueprint is str 'x', not a flask.Blueprint; "
            "assign a Blueprint instance to it.",
        ),
        (
            "blueprint = None",
            "pkg_bad.views.blueprint is NoneType None, not a flask.Blueprint",
        ),
        (
            "from flask import Blueprint\nblueprints = Blueprint('pkg_bad', __name__)",
            "pkg_bad.views.blueprints must be a list of flask.Blueprint, not Blueprint; "
            "write blueprints = [blueprint_a, blueprint_b].",
        ),
        (
            "blueprints = 'pkg_bad'",
            "pkg_bad.views.blueprints must be a list of flask.Blueprint, not str",
        ),
        (
            "from flask import Blueprint\nblueprints = [Blueprint('pkg_bad', __name__), 42]",
            "pkg_bad.views.blueprints[1] is int 42, not a flask.Blueprint",
        ),
        (
            "from flask import Blueprint\nblueprint = Blueprint\n",
            "pkg_bad.views.blueprint is type <class 'flask.blueprints.Blueprint'>, "
            "not a flask.Blueprint",
        ),
    ],
)
def test_wrong_blueprint_types(make_app, make_package, source, message):
    make_package("pkg_bad", {"views.py": source})
    with pytest.raises(PackageContentError, match=re.escape(message)):
        make_app(PACKAGES=["pkg_alpha", "pkg_bad"])


def test_views_are_not_imported_without_load(make_app, make_package):
    make_package("pkg_bad", {"views.py": "blueprint = 'x'"})
    app = make_app(PACKAGES=["pkg_bad"], load=False)
    assert not get_registry(app).loaded
    assert app.blueprints == {}


# BLUEPRINTS_URL_PREFIXES


def test_url_prefixes(make_app):
    app = make_app(
        PACKAGES=["pkg_alpha", "pkg_beta"],
        BLUEPRINTS_URL_PREFIXES={"pkg_beta": "/b"},
        SECRET_KEY="test",
    )
    client = app.test_client()
    assert client.get("/b/beta").status_code == 200
    assert client.get("/beta").status_code == 404
    assert client.get("/alpha").status_code == 200
    assert get_registry(app).package("pkg_beta").url_rules == ["/b/beta"]


def test_url_prefix_naming_an_unknown_blueprint(make_app):
    with pytest.raises(ConfigError) as info:
        make_app(PACKAGES=["pkg_alpha", "pkg_beta"], BLUEPRINTS_URL_PREFIXES={"pkg_gamma": "/g"})
    assert str(info.value) == (
        "BLUEPRINTS_URL_PREFIXES names ['pkg_gamma'], which no package registers; "
        "known blueprints: ['pkg_alpha', 'pkg_beta']."
    )


def test_url_prefixes_must_be_a_mapping(make_app):
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "BLUEPRINTS_URL_PREFIXES must map blueprint names to URL prefixes, not list"
        ),
    ):
        make_app(PACKAGES=["pkg_alpha"], BLUEPRINTS_URL_PREFIXES=["/a"])


# Conflicts


def test_same_blueprint_name_in_two_packages(make_app, make_package):
    make_package("pkg_one", {"views.py": views_source("pkg_same", ("/one", "one"))})
    make_package("pkg_two", {"views.py": views_source("pkg_same", ("/two", "two"))})
    with pytest.raises(ConflictError) as info:
        make_app(PACKAGES=["pkg_one", "pkg_two"])
    assert str(info.value) == (
        "Blueprint name 'pkg_same' is registered by packages 'pkg_one' and 'pkg_two'; "
        "rename one of the blueprints or remove one package from PACKAGES."
    )


def test_blueprint_name_conflict_is_raised_before_any_registration(make_app, make_package):
    make_package("pkg_one", {"views.py": views_source("pkg_same", ("/one", "one"))})
    make_package("pkg_two", {"views.py": views_source("pkg_same", ("/two", "two"))})
    app = make_app(PACKAGES=["pkg_alpha", "pkg_one", "pkg_two"], load=False)
    with pytest.raises(ConflictError, match="'pkg_one' and 'pkg_two'"):
        load_application(app)
    assert app.blueprints == {}


@pytest.mark.parametrize(
    ("packages", "served", "loser"),
    [(["pkg_one", "pkg_two"], "one", "pkg_two"), (["pkg_two", "pkg_one"], "two", "pkg_one")],
)
def test_same_url_rule_first_package_serves_it(make_app, make_package, packages, served, loser):
    make_package("pkg_one", {"views.py": views_source("pkg_one", ("/shared", "one"))})
    make_package("pkg_two", {"views.py": views_source("pkg_two", ("/shared", "two"))})
    app = make_app(PACKAGES=packages, SECRET_KEY="test")
    assert app.test_client().get("/shared").text == served
    winner = packages[0]
    assert get_registry(app).conflicts == [Conflict("url-rule", "/shared", winner, (loser,))]
    problems = [p for p in check_app(app) if p.id == "AF102"]
    assert len(problems) == 1
    assert problems[0].level is Level.WARNING
    assert problems[0].name == "url-rule-conflict"
    assert problems[0].message == (
        f"URL rule '/shared' is registered by packages {winner!r} and {loser!r}; "
        f"{winner!r} serves it (first in PACKAGES)."
    )
    assert "BLUEPRINTS_URL_PREFIXES" in problems[0].hint


def test_same_rule_with_other_methods_is_no_conflict(make_app, make_package):
    make_package("pkg_one", {"views.py": views_source("pkg_one", ("/form", "one"))})
    make_package(
        "pkg_two", {"views.py": views_source("pkg_two", ("/form", "two"), methods="['POST']")}
    )
    app = make_app(PACKAGES=["pkg_one", "pkg_two"], SECRET_KEY="test")
    client = app.test_client()
    assert client.get("/form").text == "one"
    assert client.post("/form").text == "two"
    assert get_registry(app).conflicts == []
    assert not [p for p in check_app(app) if p.id == "AF102"]


def test_url_prefix_resolves_a_rule_conflict(make_app, make_package):
    make_package("pkg_one", {"views.py": views_source("pkg_one", ("/shared", "one"))})
    make_package("pkg_two", {"views.py": views_source("pkg_two", ("/shared", "two"))})
    app = make_app(
        PACKAGES=["pkg_one", "pkg_two"],
        BLUEPRINTS_URL_PREFIXES={"pkg_two": "/two"},
        SECRET_KEY="test",
    )
    assert app.test_client().get("/two/shared").text == "two"
    assert get_registry(app).conflicts == []


def test_same_config_default_in_two_packages(make_app, make_package):
    make_package("pkg_one", {"config.py": "PKG_SHARED = 'one'\nPKG_ONE_ONLY = 1\n"})
    make_package("pkg_two", {"config.py": "PKG_SHARED = 'two'\n"})
    app = make_app(PACKAGES=["pkg_one", "pkg_two"])
    assert app.config["PKG_SHARED"] == "one"
    registry = get_registry(app)
    assert str(registry.history.origin("PKG_SHARED")) == "package default (pkg_one.config)"
    assert [(s.origin.source, s.value) for s in registry.history.history("PKG_SHARED")] == [
        ("pkg_two.config", "two"),
        ("pkg_one.config", "one"),
    ]
    assert registry.conflicts == [Conflict("config-default", "PKG_SHARED", "pkg_one", ("pkg_two",))]
    problems = [p for p in check_app(app) if p.id == "AF101"]
    assert len(problems) == 1
    assert problems[0].level is Level.WARNING
    assert problems[0].message == (
        "PKG_SHARED has a default in packages 'pkg_one' and 'pkg_two'; 'pkg_one' wins "
        "because it comes first in PACKAGES."
    )
    assert problems[0].hint.startswith("Set PKG_SHARED in the app's configuration")


def test_config_default_conflict_is_kept_when_the_app_sets_the_key(make_app, make_package):
    make_package("pkg_one", {"config.py": "PKG_SHARED = 'one'\n"})
    make_package("pkg_two", {"config.py": "PKG_SHARED = 'two'\n"})
    app = make_app(PACKAGES=["pkg_two", "pkg_one"], PKG_SHARED="app")
    registry = get_registry(app)
    assert app.config["PKG_SHARED"] == "app"
    assert registry.history.origin("PKG_SHARED").layer is Layer.KWARGS
    assert [c.winner for c in registry.conflicts] == ["pkg_two"]


# Static files


def test_package_static_files_are_served(make_app):
    app = make_app(PACKAGES=["pkg_alpha"], SECRET_KEY="test")
    with app.test_request_context():
        url = url_for("pkg_alpha.static", filename="alpha.txt")
    assert url == "/pkg_alpha/static/alpha.txt"
    response = app.test_client().get(url)
    assert response.status_code == 200
    assert response.text == "alpha static file\n"
    response.close()
    assert app.test_client().get("/pkg_alpha/static/missing.txt").status_code == 404


def test_instance_static_folder_is_served(make_app, instance_path):
    app = make_app(PACKAGES=["pkg_alpha"], SECRET_KEY="test")
    (instance_path / "static").mkdir()
    (instance_path / "static" / "site.css").write_text("body {}\n")
    response = app.test_client().get("/static/site.css")
    assert response.status_code == 200
    assert response.text == "body {}\n"
    response.close()
