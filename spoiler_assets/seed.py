"""The one default seed: every sampling, split, initialisation and bootstrap starts from it
unless its run config sets another."""

SEED = 7
