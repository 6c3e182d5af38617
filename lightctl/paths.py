"""Where the shipped configuration lives (the repository's config/ next to the package)."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEMO_LANTERNS = CONFIG_DIR / "demo" / "lanterns.geojson"
DEMO_STREETS = CONFIG_DIR / "demo" / "streets.geojson"
TEMPLATES_DIR = CONFIG_DIR / "templates"
LEXICON_PATH = CONFIG_DIR / "lexicon" / "lexicon.toml"
