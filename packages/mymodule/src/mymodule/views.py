"""The web pages of mymodule."""

from flask import Blueprint, current_app, render_template

blueprint = Blueprint(
    "mymodule",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/mymodule/static",
)


@blueprint.route("/")
def index() -> str:
    """Greet the visitor."""
    return render_template("mymodule.html", greeting=current_app.config["MYMODULE_GREETING"])
