"""The templates shipped in config/templates load, render in every language and read well aloud."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lightctl.templates import REQUIRED_LANGUAGES, Template, load_templates, render
from lightctl.templates.placeholders import fields_in

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "templates"
TEMPLATES = load_templates(SHIPPED)
CASES = [(t, lang) for t in TEMPLATES.values() for lang in t.languages]

# Abbreviations a speech engine reads letter by letter or not at all.
ABBREVIATIONS = re.compile(
    r"\b(z\. ?B|bzw|ca|usw|Str|Nr|e\.g|i\.e|etc|approx|St|ul|np|ул|вул|г|т\. ?е|örn|vb)\.",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _params(template: Template) -> dict[str, str]:
    return {p.name: p.example for p in template.placeholders}


def _id(case: tuple[Template, str]) -> str:
    return f"{case[0].id}-{case[1]}"


def test_every_expected_template_ships() -> None:
    assert set(TEMPLATES) == {
        "fire_smoke",
        "evacuation",
        "gas_leak",
        "ordnance",
        "flood",
        "outage",
        "police",
        "heat",
        "test",
        "all_clear",
    }


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=list(TEMPLATES))
def test_template_speaks_every_required_language(template: Template) -> None:
    assert set(REQUIRED_LANGUAGES) <= set(template.languages)
    assert set(template.projection_text) == set(template.languages)
    assert set(template.default_languages) <= set(template.languages)
    assert template.default_languages[0] == "de"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_renders_with_the_declared_examples(case: tuple[Template, str]) -> None:
    template, lang = case
    params = _params(template)
    spoken = render(template, lang, params)
    assert "{" not in spoken
    assert "}" not in spoken
    for value in params.values():
        assert value in spoken


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=list(TEMPLATES))
def test_every_language_uses_the_same_placeholders(template: Template) -> None:
    expected = set(template.placeholder_names)
    used = {lang: set(fields_in(text)) for lang, text in template.text.items()}
    assert used == dict.fromkeys(template.languages, expected)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_text_reads_well_aloud(case: tuple[Template, str]) -> None:
    template, lang = case
    text = template.text[lang]
    assert not ABBREVIATIONS.search(text), "abbreviations are not spoken reliably"
    assert not re.search(r"\d", text), "numbers belong in placeholders, not in the text"
    sentences = SENTENCE_END.split(text)
    if lang == "de-LS":
        # Leichte Sprache: one statement per short sentence, so more sentences are allowed.
        assert len(sentences) <= 5
        for sentence in sentences:
            assert len(sentence.split()) <= 10, sentence
    else:
        assert 1 <= len(sentences) <= 3, sentences


def test_signals_fit_the_message() -> None:
    assert TEMPLATES["all_clear"].signal == "all_clear"
    assert TEMPLATES["test"].signal == "none"
    assert TEMPLATES["test"].severity == "minor"
    for key in ("evacuation", "gas_leak", "fire_smoke", "ordnance", "flood"):
        assert TEMPLATES[key].signal == "warning", key
    assert TEMPLATES["evacuation"].severity == "extreme"
