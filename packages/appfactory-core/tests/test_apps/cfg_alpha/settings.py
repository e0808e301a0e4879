"""An app configuration module, with a configuration class."""

CFG_LAYER = "app"
CFG_APP_ONLY = "from the app module"
lowercase_helper = "not a setting"


class Production:
    CFG_LAYER = "production class"
    lowercase_helper = "not a setting"
