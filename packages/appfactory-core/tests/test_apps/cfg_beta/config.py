"""Defaults of cfg_beta."""

CFG_SHARED = "beta"
CFG_BETA_ONLY = "from beta"
