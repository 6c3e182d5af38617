"""An alert's words: free text or a template checked and rendered, then spoken into clips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightctl.domain.alerts import AlertSpec, Signal, check_messages
from lightctl.errors import FieldProblem, InvalidRequest, summarise
from lightctl.geo.names import suggest
from lightctl.protocol import SpeechItem
from lightctl.services.alerts import commands as build
from lightctl.services.speech import Speaker, SpeechClipLike, template_sentences
from lightctl.settings import SUPPORTED_LANGUAGES, Settings
from lightctl.templates import Template, render


@dataclass(frozen=True, slots=True)
class AlertTexts:
    """The words of an alert before they are rendered: per language, what is spoken."""

    messages: dict[str, str]
    languages: tuple[str, ...]
    signal: Signal
    severity: str
    projection_text: str
    # What is spoken per language: the whole free text, or a template's sentences.
    segments: dict[str, list[str]]


class Announcer:
    """Turns an alert's spec into checked texts and its texts into speech clips."""

    def __init__(
        self, settings: Settings, speech: Speaker, templates: Mapping[str, Template]
    ) -> None:
        self._settings = settings
        self._speech = speech
        self.templates = dict(templates)

    def texts(self, spec: AlertSpec) -> AlertTexts:
        """What is said, in which languages and order, with the signal and severity (422s for
        an unknown template, a missing language or bad free text)."""
        if spec.template is None:
            languages = check_messages(
                spec.messages, spec.languages, SUPPORTED_LANGUAGES, self._settings.max_text_chars
            )
            first = languages[0]
            return AlertTexts(
                dict(spec.messages),
                languages,
                spec.signal or "warning",
                spec.severity or "severe",
                build.WARNING_WORD.get(first, "WARNING"),
                {lang: [spec.messages[lang].strip()] for lang in languages},
            )
        template = self.templates.get(spec.template)
        if template is None:
            raise InvalidRequest.at(
                ("template",),
                "unknown template",
                spec.template,
                tuple(suggest(spec.template, list(self.templates))),
            )
        if spec.messages:
            raise InvalidRequest.at(("messages",), "give either template or messages, not both")
        languages = spec.languages or template.default_languages
        problems = [
            FieldProblem(
                ("languages", i),
                f"template {template.id!r} has no text in this language",
                lang,
                template.languages,
            )
            for i, lang in enumerate(languages)
            if lang not in template.text
        ]
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        params = spec.params or {}
        messages = {lang: render(template, lang, params) for lang in languages}
        return AlertTexts(
            messages,
            tuple(languages),
            spec.signal or template.signal,
            spec.severity or template.severity,
            template.projection_text.get(languages[0], template.id.upper()),
            {lang: template_sentences(template, lang, params) for lang in languages},
        )

    def render(
        self, texts: AlertTexts, exercise: bool
    ) -> tuple[list[SpeechItem], list[dict[str, Any]]]:
        """Speech clips in playback order; a synthesis failure stops the alert before storing."""
        base = self._settings.resolved_public_url
        items: list[SpeechItem] = []
        clips: list[dict[str, Any]] = []
        for lang in texts.languages:
            for segment in texts.segments[lang]:
                clip = self._speech.clip(segment, lang)
                items.append(speech_item(clip, base))
                clips.append(clip_json(clip, base))
        if exercise:  # rendered now so a failure surfaces before anything is stored
            self.exercise_items(texts, exercise)
        return items, clips

    def exercise_items(self, texts: AlertTexts, exercise: bool) -> dict[str, SpeechItem]:
        if not exercise:
            return {}
        base = self._settings.resolved_public_url
        return {
            lang: speech_item(self._speech.clip(build.EXERCISE_PHRASES[lang], lang), base)
            for lang in texts.languages
            if lang in build.EXERCISE_PHRASES
        }


def speech_item(clip: SpeechClipLike, base: str) -> SpeechItem:
    return SpeechItem(
        lang=clip.lang,
        url=f"{base}/api/v1/audio/{clip.sha256}.{clip.ext}",
        sha256=clip.sha256,
        duration_s=round(clip.duration_s, 3),
    )


def clip_json(clip: SpeechClipLike, base: str) -> dict[str, Any]:
    return {
        "lang": clip.lang,
        "sha256": clip.sha256,
        "url": f"{base}/api/v1/audio/{clip.sha256}.{clip.ext}",
        "duration_s": round(clip.duration_s, 3),
        "engine": clip.engine,
        "fallback_reason": clip.fallback_reason,
    }
