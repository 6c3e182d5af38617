"""Alert texts to clips: lexicon first, templates by sentence so they can be pre-rendered."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Protocol

from lightctl.audio.lexicon import Lexicon
from lightctl.errors import LightctlError
from lightctl.templates import Template

log = logging.getLogger(__name__)

# A sentence ends at . ! ? or the Arabic question mark, followed by white space.
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class SpeechClipLike(Protocol):
    @property
    def sha256(self) -> str: ...
    @property
    def ext(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def engine(self) -> str: ...
    @property
    def lang(self) -> str: ...
    @property
    def fallback_reason(self) -> str | None: ...


class SpeechSource(Protocol):
    def get_or_render(self, text: str, lang: str) -> SpeechClipLike: ...


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def template_sentences(template: Template, lang: str, params: Mapping[str, str]) -> list[str]:
    """The template's text in ``lang`` split into sentences, placeholders filled.

    Splitting the template (not the filled text) keeps fixed sentences identical across alerts,
    so their clips are the ones rendered at start-up.
    """
    return [
        _PLACEHOLDER.sub(lambda m: params[m.group(1)], sentence)
        for sentence in sentences(template.text[lang])
    ]


class Speaker:
    """Applies the lexicon and renders through the clip cache."""

    def __init__(self, source: SpeechSource, lexicon: Lexicon) -> None:
        self.source = source
        self.lexicon = lexicon

    def clip(self, text: str, lang: str) -> SpeechClipLike:
        return self.source.get_or_render(self.lexicon.apply(text, lang), lang)

    def warm(self, templates: Mapping[str, Template], extra: Mapping[str, str]) -> int:
        """Render every fixed sentence of every template in every language ahead of time."""
        started, count = time.monotonic(), 0
        for template in templates.values():
            for lang, text in template.text.items():
                for sentence in sentences(text):
                    if "{" in sentence:
                        continue  # needs the alert's parameters
                    count += self._try(sentence, lang)
        for lang, text in extra.items():
            count += self._try(text, lang)
        log.info("pre-rendered %d clips in %.1f s", count, time.monotonic() - started)
        return count

    def _try(self, text: str, lang: str) -> int:
        try:
            self.clip(text, lang)
        except LightctlError as exc:  # shown again, to the dispatcher, if this text is sent
            log.warning("could not pre-render %s clip %r: %s", lang, text[:40], exc)
            return 0
        return 1
