"""The web side of the several-hosts tests: a view that sends ``wledger`` tasks."""
