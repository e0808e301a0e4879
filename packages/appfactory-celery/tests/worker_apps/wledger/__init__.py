"""Tasks for the reliability tests: each records its runs in a ledger (a Redis)."""
