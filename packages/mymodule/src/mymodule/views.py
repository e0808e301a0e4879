"""The web pages of mymodule."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from appfactory.sqlalchemy import db

from .models import Greeting

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


@blueprint.get("/greetings")
def list_greetings() -> dict[str, list[str]]:
    """The greetings left so far, oldest first."""
    greetings = db.session.scalars(db.select(Greeting).order_by(Greeting.id))
    return {"greetings": [greeting.text for greeting in greetings]}


@blueprint.post("/greetings")
def add_greeting() -> tuple[dict[str, object], int]:
    """Leave a greeting (form field ``text``, 1 to 200 characters)."""
    text = request.form.get("text", "").strip()
    if not 0 < len(text) <= 200:
        abort(400, "Form field 'text' must have 1 to 200 characters.")
    greeting = Greeting(text=text)
    db.session.add(greeting)
    db.session.commit()
    return {"id": greeting.id, "text": greeting.text}, 201
