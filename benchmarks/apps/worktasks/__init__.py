"""A reusable package whose only content is the benchmarks' trivial tasks."""
