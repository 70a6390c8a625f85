"""Twinline services: one bounded context per package, the shared kernel in `common`."""
