"""Every shipped template renders in every language with the offline engine: real audio."""

from __future__ import annotations

import pytest

from lightctl.audio import OfflineSynthesizer, decode_wav
from lightctl.paths import TEMPLATES_DIR
from lightctl.templates import load_templates, render

TEMPLATES = load_templates(TEMPLATES_DIR)
CASES = [(t.id, lang) for t in TEMPLATES.values() for lang in t.text]
ENGINE = OfflineSynthesizer()


@pytest.mark.parametrize(("template_id", "lang"), CASES)
def test_template_speaks(template_id: str, lang: str) -> None:
    template = TEMPLATES[template_id]
    params = {p.name: p.example for p in template.placeholders}
    text = render(template, lang, params)
    rendered = ENGINE.render(text, lang)
    pcm = decode_wav(rendered.data)
    assert rendered.engine == "espeak-ng"
    assert pcm.duration_s > 1.0, (template_id, lang, pcm.duration_s)
    loud = max(abs(s) for s in pcm.samples)
    assert loud > 1000, "speech, not silence"


def test_every_template_covers_the_nine_languages() -> None:
    required = {"de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl", "fr"}
    assert len(TEMPLATES) >= 10
    for template in TEMPLATES.values():
        assert required <= set(template.text), template.id
