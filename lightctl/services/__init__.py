"""Use cases: import inventory, resolve targets, create and follow alerts."""
