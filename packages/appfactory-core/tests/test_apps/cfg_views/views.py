from flask import Blueprint

blueprint = Blueprint("cfg_views", __name__)


@blueprint.route("/cfg-views")
def index() -> str:
    return "cfg_views"
