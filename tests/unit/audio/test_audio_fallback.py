"""Fallback from the online engine to eSpeak NG is never silent, and double failure is loud."""

from __future__ import annotations

import logging

import httpx
import pytest

from lightctl.audio.espeak import OfflineSynthesizer
from lightctl.audio.factory import synthesizer_from_settings
from lightctl.audio.fallback import FallbackRendered, FallbackSynthesizer, fallback_reason_of
from lightctl.audio.gtts_engine import GttsSynthesizer
from lightctl.audio.synth import Rendered
from lightctl.audio.wav import decode_wav
from lightctl.errors import SynthesisFailed
from lightctl.settings import Settings


class FakeEngine:
    """A synthesizer that returns a fixed clip or raises, and counts its calls."""

    def __init__(self, name: str, *, fail: str | None = None, langs: tuple[str, ...] = ("de",)):
        self.name = name
        self.fail = fail
        self.langs = langs
        self.calls: list[tuple[str, str]] = []

    def supports(self, lang: str) -> bool:
        return lang in self.langs

    def render(self, text: str, lang: str) -> Rendered:
        self.calls.append((text, lang))
        if self.fail is not None:
            raise SynthesisFailed(lang, self.fail, self.name)
        return Rendered(b"ID3fake", "mp3", 1.5, self.name)


def test_primary_result_is_used_and_marked_first_choice() -> None:
    backup = FakeEngine("backup")
    result = FallbackSynthesizer(FakeEngine("gtts"), backup).render("Achtung", "de")
    assert isinstance(result, FallbackRendered)
    assert (result.engine, result.primary, result.fallback_reason) == ("gtts", "gtts", None)
    assert backup.calls == []


def test_failing_online_engine_falls_back_to_espeak(caplog: pytest.LogCaptureFixture) -> None:
    online = FakeEngine("gtts", fail="no answer within 5 s (ConnectTimeout)")
    synth = FallbackSynthesizer(online, OfflineSynthesizer())
    with caplog.at_level(logging.WARNING, logger="lightctl.audio.fallback"):
        result = synth.render("Achtung, Gewitter!", "de")
    assert online.calls == [("Achtung, Gewitter!", "de")]
    assert (result.engine, result.ext, result.primary) == ("espeak-ng", "wav", "gtts")
    assert result.fallback_reason == "gtts failed: no answer within 5 s (ConnectTimeout)"
    assert fallback_reason_of(result) == result.fallback_reason
    assert decode_wav(result.data).duration_s > 0.3
    assert "falls back to espeak-ng" in caplog.text
    assert "ConnectTimeout" in caplog.text


def test_real_gtts_adapter_with_broken_google_falls_back() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(503)))
    synth = FallbackSynthesizer(GttsSynthesizer(client=client), OfflineSynthesizer())
    result = synth.render("Achtung", "de-LS")
    assert result.engine == "espeak-ng"
    assert result.fallback_reason is not None
    assert result.fallback_reason.startswith("gtts failed: 503")


def test_unsupported_language_goes_to_fallback_with_reason() -> None:
    online = FakeEngine("gtts", langs=())
    result = FallbackSynthesizer(online, FakeEngine("espeak-ng")).render("Hallo", "de")
    assert result.engine == "espeak-ng"
    assert result.fallback_reason == "gtts does not support 'de'"
    assert online.calls == []


def test_both_failing_names_both_reasons() -> None:
    synth = FallbackSynthesizer(
        FakeEngine("gtts", fail="HTTP 500"), FakeEngine("espeak-ng", fail="library missing")
    )
    with pytest.raises(SynthesisFailed) as err:
        synth.render("Achtung", "de")
    assert err.value.reason == "gtts failed: HTTP 500; espeak-ng failed: library missing"
    assert err.value.engine == "gtts>espeak-ng"
    assert "gtts failed: HTTP 500" in str(err.value)


def test_no_engine_for_language_names_both() -> None:
    synth = FallbackSynthesizer(FakeEngine("gtts", langs=()), FakeEngine("espeak-ng", langs=()))
    assert not synth.supports("de")
    with pytest.raises(SynthesisFailed, match="gtts does not support 'de'; espeak-ng does not"):
        synth.render("Achtung", "de")


def test_nested_fallback_keeps_every_reason() -> None:
    inner = FallbackSynthesizer(FakeEngine("b", fail="down"), FakeEngine("c"))
    result = FallbackSynthesizer(FakeEngine("a", fail="offline"), inner).render("x", "de")
    assert result.engine == "c"
    assert result.fallback_reason == "a failed: offline; b failed: down"


def test_plain_rendered_has_no_fallback_reason() -> None:
    assert fallback_reason_of(Rendered(b"x", "wav", 1.0, "espeak-ng")) is None


def test_settings_choose_the_engine() -> None:
    offline = synthesizer_from_settings(Settings(tts_engine="offline"))
    assert offline.name == "espeak-ng"
    online = synthesizer_from_settings(Settings(tts_engine="gtts", tts_timeout_s=2.0))
    assert isinstance(online, FallbackSynthesizer)
    assert online.name == "gtts>espeak-ng"
    assert isinstance(online.primary, GttsSynthesizer)
    assert online.primary._timeout_s == 2.0
