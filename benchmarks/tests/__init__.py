"""Tests of the benchmark harness (not of the systems it measures)."""
