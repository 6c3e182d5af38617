"""Lighting schedules at slot 15: definitions and previews, and the runner that sends them."""
