"""Visitor-flow steering at slot 10: the lifecycle and the per-lantern commands it plans."""
