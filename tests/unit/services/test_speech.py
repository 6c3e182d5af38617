"""Lexicon before synthesis; template sentences pre-rendered so sending never waits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lightctl.audio.lexicon import Lexicon
from lightctl.paths import LEXICON_PATH, TEMPLATES_DIR
from lightctl.services.speech import Speaker, sentences, template_sentences
from lightctl.templates import load_templates


@dataclass(frozen=True)
class FakeClip:
    sha256: str
    ext: str
    duration_s: float
    engine: str
    lang: str
    fallback_reason: str | None = None


class CountingSource:
    """Stands in for the clip cache: remembers what it was asked to render."""

    def __init__(self) -> None:
        self.rendered: list[tuple[str, str]] = []
        self.cache: dict[tuple[str, str], FakeClip] = {}

    def get_or_render(self, text: str, lang: str) -> FakeClip:
        key = (text, lang)
        if key not in self.cache:
            self.rendered.append(key)
            self.cache[key] = FakeClip(f"{len(self.cache):064x}", "wav", 1.0, "fake", lang)
        return self.cache[key]


def test_shipped_lexicon_expands_street_abbreviations() -> None:
    lexicon = Lexicon.load(LEXICON_PATH)
    assert lexicon.apply("Brand in der Bahnhofstr. 3", "de") == "Brand in der Bahnhofstraße 3"
    assert lexicon.apply("Sperrung der Str. und z. B. am Hbf.", "de") == (
        "Sperrung der Straße und zum Beispiel am Hauptbahnhof"
    )
    assert lexicon.apply("Bahnhofstrasse", "de") == "Bahnhofstrasse"  # whole words only
    assert lexicon.apply("Fire on Bahnhofstr.", "en") == "Fire on Bahnhofstrasse"
    assert lexicon.apply("Bahnhofstr.", "xx") == "Bahnhofstr."


def test_lexicon_is_applied_before_synthesis(tmp_path: Path) -> None:
    source = CountingSource()
    speaker = Speaker(source, Lexicon({"de": {"-str.": "straße"}}))
    speaker.clip("Achtung Bahnhofstr.", "de")
    assert source.rendered == [("Achtung Bahnhofstraße", "de")]


def test_sentences_split_on_sentence_ends() -> None:
    assert sentences("Eins. Zwei! Drei? Vier") == ["Eins.", "Zwei!", "Drei?", "Vier"]
    assert sentences("انتباه، حريق. أغلقوا النوافذ؟ نعم") == [
        "انتباه، حريق.",
        "أغلقوا النوافذ؟",
        "نعم",
    ]


def test_warm_up_renders_every_fixed_sentence_so_a_send_renders_only_parameters() -> None:
    templates = load_templates(TEMPLATES_DIR)
    source = CountingSource()
    speaker = Speaker(source, Lexicon())
    count = speaker.warm(templates, {"de": "Dies ist eine Übung."})
    # Sentences shared by several templates are rendered once.
    assert count >= len(source.rendered) > 100
    before = len(source.rendered)
    evacuation = templates["evacuation"]
    params = {"street": "Bahnhofstrasse", "meeting_point": "Lindenhof"}
    for lang in evacuation.text:
        for sentence in template_sentences(evacuation, lang, params):
            speaker.clip(sentence, lang)
    new = source.rendered[before:]
    # Only sentences that carry a parameter needed synthesis at send time.
    assert new
    assert all("Bahnhofstrasse" in text or "Lindenhof" in text for text, _lang in new)
    fire = templates["fire_smoke"]  # no parameters at all: nothing to render when sending
    before = len(source.rendered)
    for lang in fire.text:
        for sentence in template_sentences(fire, lang, {}):
            speaker.clip(sentence, lang)
    assert len(source.rendered) == before
