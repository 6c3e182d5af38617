"""The offline engine speaks every product language through the real eSpeak NG library."""

from __future__ import annotations

import json
import shlex
import stat
import sys
import threading
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest

from lightctl.audio.espeak import VOICES, OfflineSynthesizer
from lightctl.audio.wav import decode_wav
from lightctl.errors import SynthesisFailed

Rms = Callable[["array[int]"], float]

SENTENCES = {
    "de": "Achtung! Bitte verlassen Sie sofort den Marktplatz.",
    "de-LS": "Achtung! Hier ist Gefahr. Bitte gehen Sie weg.",
    "en": "Attention! Please leave the market square immediately.",
    "tr": "Dikkat! Lütfen pazar meydanını hemen terk edin.",
    "ar": "انتباه! يرجى مغادرة ساحة السوق فورا.",
    "uk": "Увага! Будь ласка, негайно залиште ринкову площу.",
    "ru": "Внимание! Пожалуйста, немедленно покиньте рыночную площадь.",
    "pl": "Uwaga! Proszę natychmiast opuścić rynek.",
    "fr": "Attention ! Veuillez quitter immédiatement la place du marché.",
    "es": "¡Atención! Abandonen la plaza del mercado inmediatamente.",
    "it": "Attenzione! Lasciate subito la piazza del mercato.",
}


@pytest.fixture(scope="module")
def offline() -> OfflineSynthesizer:
    return OfflineSynthesizer()


def test_every_product_language_has_a_voice_and_a_sentence() -> None:
    assert set(VOICES) == set(SENTENCES)


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_renders_real_speech(offline: OfflineSynthesizer, rms: Rms, lang: str) -> None:
    rendered = offline.render(SENTENCES[lang], lang)
    assert (rendered.ext, rendered.engine) == ("wav", "espeak-ng")
    pcm = decode_wav(rendered.data)
    assert pcm.sample_rate == 22050
    assert pcm.duration_s > 0.3
    assert rendered.duration_s == pytest.approx(pcm.duration_s)
    # Speech averages several hundred to a few thousand; silence or a click would be near 0.
    assert rms(pcm.samples) > 300
    assert max(abs(s) for s in pcm.samples) > 3000


def test_easy_german_is_spoken_slower(offline: OfflineSynthesizer) -> None:
    text = SENTENCES["de"]
    normal = offline.render(text, "de").duration_s
    easy = offline.render(text, "de-LS").duration_s
    assert easy > normal * 1.1  # 140 vs 175 words per minute


def test_longer_text_gives_longer_audio(offline: OfflineSynthesizer) -> None:
    short = offline.render("Achtung.", "de").duration_s
    longer = offline.render("Achtung. " * 4 + SENTENCES["de"], "de").duration_s
    assert longer > short + 1.0


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00"])
def test_empty_text_is_refused(offline: OfflineSynthesizer, text: str) -> None:
    with pytest.raises(SynthesisFailed, match="empty text") as err:
        offline.render(text, "de")
    assert err.value.engine == "espeak-ng"


def test_unknown_language_is_refused(offline: OfflineSynthesizer) -> None:
    assert not offline.supports("xx")
    assert offline.supports("de-LS")
    with pytest.raises(SynthesisFailed, match="no eSpeak NG voice"):
        offline.render("Hallo", "xx")


def test_concurrent_renders_match_serial_ones(offline: OfflineSynthesizer) -> None:
    # eSpeak NG is not re-entrant: without the process-wide lock, threads would steal or mix
    # each other's samples. Its output jitters by a few samples per run, hence approx 5 %.
    jobs = [("de", SENTENCES["de"] * 2), ("en", "Go."), ("ru", SENTENCES["ru"]), ("fr", "Oui.")]
    jobs *= 3
    expected = {text: offline.render(text, lang).duration_s for lang, text in jobs}
    results: dict[int, float] = {}

    def work(i: int, lang: str, text: str) -> None:
        results[i] = offline.render(text, lang).duration_s

    threads = [threading.Thread(target=work, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for i, (_lang, text) in enumerate(jobs):
        assert results[i] == pytest.approx(expected[text], rel=0.05)


FAKE_CLI = """import json, sys, wave
args = sys.argv[1:]
text = sys.stdin.buffer.read().decode("utf-8")
with open({log!r}, "w") as log:
    json.dump({{"args": args, "text": text}}, log)
if {fail!r}:
    sys.stderr.write("voice not found")
    sys.exit(1)
out = args[args.index("-w") + 1]
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
    w.writeframes(b"\\x10\\x00" * 22050)
"""


def _fake_cli(tmp_path: Path, *, fail: bool = False) -> tuple[Path, Path]:
    log = tmp_path / "cli.json"
    code = tmp_path / "fake_espeak.py"
    code.write_text(FAKE_CLI.format(log=str(log), fail=fail))
    # A shell wrapper, not a "#!python" line: the interpreter's path may hold spaces.
    script = tmp_path / "espeak-ng"
    script.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(code))} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_falls_back_to_cli_when_library_cannot_load(tmp_path: Path) -> None:
    script, log = _fake_cli(tmp_path)
    synth = OfflineSynthesizer(library_path=str(tmp_path / "missing.so"), binary=str(script))
    rendered = synth.render("-v Achtung", "de-LS")
    assert (rendered.ext, rendered.engine) == ("wav", "espeak-ng")
    assert rendered.duration_s == pytest.approx(1.0)
    call = json.loads(log.read_text())
    assert call["text"] == "-v Achtung"  # via stdin, so it cannot be taken for an option
    args = call["args"]
    assert args[args.index("-v") + 1] == "de"
    assert args[args.index("-s") + 1] == "140"


def test_cli_failure_is_reported(tmp_path: Path) -> None:
    script, _ = _fake_cli(tmp_path, fail=True)
    synth = OfflineSynthesizer(library_path=str(tmp_path / "missing.so"), binary=str(script))
    with pytest.raises(SynthesisFailed, match="exited with 1: voice not found"):
        synth.render("Achtung", "de")


def test_no_library_and_no_binary_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    synth = OfflineSynthesizer(library_path=str(tmp_path / "missing.so"))
    with pytest.raises(SynthesisFailed, match=r"library unavailable.*no espeak-ng binary"):
        synth.render("Achtung", "de")
