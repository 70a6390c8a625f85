"""The OOS investigation aggregate (docs/release_testing.md §5)."""
