"""A reusable package with every conventional module (listed first in most tests)."""
