"""The blueprint of pkg_beta: ``page.html`` extends ``page_base.html``."""

from flask import Blueprint, render_template

blueprint = Blueprint("pkg_beta", __name__, template_folder="templates")


@blueprint.route("/beta")
def index() -> str:
    return render_template("page.html", greeting="beta greeting")
