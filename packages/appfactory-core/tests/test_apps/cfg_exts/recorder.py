"""An extension in the ``"module"`` form: setup_app(app) is called."""

from flask import Flask

from cfg_exts import record_call


def setup_app(app: Flask) -> None:
    record_call(app, "recorder")
    app.config.setdefault("CFG_EXT_COLOR", "blue")
    app.config["CFG_EXT_FORCED"] = "set by recorder"
