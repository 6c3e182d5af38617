"""Where shipped files live: configuration (config/ next to the package), the console (web/)."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEMO_LANTERNS = CONFIG_DIR / "demo" / "lanterns.geojson"
DEMO_STREETS = CONFIG_DIR / "demo" / "streets.geojson"
TEMPLATES_DIR = CONFIG_DIR / "templates"
LEXICON_PATH = CONFIG_DIR / "lexicon" / "lexicon.toml"
WEB_DIR = Path(__file__).resolve().parent / "web"
