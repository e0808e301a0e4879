"""Records the order in which the test packages' modules are imported."""

IMPORTED: list[str] = []
