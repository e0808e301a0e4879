"""Defaults of cfg_alpha."""

CFG_LAYER = "package"
CFG_SHARED = "alpha"
CFG_ALPHA_ONLY = "from alpha"
lowercase_helper = "not a setting"
