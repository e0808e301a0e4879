"""A reusable package whose page base template another package extends."""
