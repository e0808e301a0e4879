"""Defaults of pkg_alpha."""

PKG_ALPHA_GREETING = "Hello from alpha"
