"""Feature computation shared by training and serving (pure functions, no Dagster)."""
