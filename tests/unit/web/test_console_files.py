"""The console's static files: every text in both languages, every key used exists, every file
the page loads is shipped (vendored, no CDN), no inline script the security policy would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lightctl.paths import WEB_DIR

STRINGS = WEB_DIR / "i18n.js"
_KEY = re.compile(r"^\s+'?([\w.]+)'?:\s", re.MULTILINE)


def _split(body: str) -> dict[str, set[str]]:
    de, en = body.split("\n  en: {")
    return {"de": set(_KEY.findall(de.split("\n  de: {", 1)[1])), "en": set(_KEY.findall(en))}


def _module_strings() -> dict[Path, dict[str, set[str]]]:
    """The texts a feature module brings along (``addStrings({de: {...}, en: {...}})``)."""
    found: dict[Path, dict[str, set[str]]] = {}
    for script in sorted(WEB_DIR.glob("*.js")):
        text = script.read_text()
        start = text.find("\naddStrings({")
        if script != STRINGS and start >= 0:
            found[script] = _split(text[start : text.index("\n});\n", start)])
    return found


def _dictionaries() -> dict[str, set[str]]:
    text = STRINGS.read_text()
    out = _split(text[text.index("const STRINGS = {") : text.index("\n};\n")])
    for strings in _module_strings().values():
        out["de"] |= strings["de"]
        out["en"] |= strings["en"]
    return out


def test_every_feature_module_brings_its_texts_in_both_languages() -> None:
    for script, strings in _module_strings().items():
        assert strings["de"], script
        assert strings["de"] == strings["en"], script


def _used_keys() -> set[str]:
    used: set[str] = set()
    html = (WEB_DIR / "index.html").read_text()
    used |= set(re.findall(r'data-i18n(?:-aria)?="([\w.]+)"', html))
    for script in WEB_DIR.glob("*.js"):
        if script != STRINGS:  # its comments show how t() is called
            used |= set(re.findall(r"\bt\('([\w.]+)'", script.read_text()))
    return used


def test_german_and_english_have_the_same_texts() -> None:
    dictionaries = _dictionaries()
    assert len(dictionaries["de"]) > 100
    assert dictionaries["de"] - dictionaries["en"] == set()
    assert dictionaries["en"] - dictionaries["de"] == set()


def test_every_text_the_page_asks_for_exists() -> None:
    missing = _used_keys() - _dictionaries()["de"]
    assert missing == set()


@pytest.mark.parametrize("page", ["index.html"])
def test_everything_the_page_loads_is_shipped_and_local(page: str) -> None:
    html = (WEB_DIR / page).read_text()
    refs = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert refs
    for ref in refs:
        assert not re.match(r"^(\w+:)?//", ref), f"{ref} is not served by lightctl"
        assert (WEB_DIR / ref).is_file(), f"{ref} is missing from lightctl/web"
    for script in WEB_DIR.glob("*.js"):
        for module in re.findall(r"from '\./([\w.]+)'", script.read_text()):
            assert (WEB_DIR / module).is_file(), f"{script.name} imports a missing {module}"
    assert (WEB_DIR / "vendor" / "leaflet" / "LICENSE").is_file()


def test_no_inline_script_or_handler() -> None:
    # The console's Content-Security-Policy allows scripts from the app only ('self').
    html = (WEB_DIR / "index.html").read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+=", html)


def test_web_dir_is_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert '"web/**/*"' in pyproject
