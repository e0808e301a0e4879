"""A reusable package with configuration defaults and models."""
