"""Models of cfg_alpha, found by discover_modules(app, "models")."""

import cfg_log

cfg_log.IMPORTED.append(__name__)
