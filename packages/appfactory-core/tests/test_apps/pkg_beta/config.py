"""Defaults of pkg_beta."""

PKG_BETA_LIMIT = 10
