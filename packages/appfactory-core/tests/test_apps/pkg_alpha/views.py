"""The blueprint of pkg_alpha: a page that overrides pkg_beta's, and static files."""

from flask import Blueprint, current_app, render_template

blueprint = Blueprint(
    "pkg_alpha",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/pkg_alpha/static",
)


@blueprint.route("/alpha")
def index() -> str:
    return render_template("page.html", greeting=current_app.config["PKG_ALPHA_GREETING"])
