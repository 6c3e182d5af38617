"""Content-addressed clip storage and the persistent speech cache."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from lightctl.audio.clips import ClipStore, SpeechCache, SpeechClip, parse_clip_name
from lightctl.audio.fallback import FallbackRendered
from lightctl.audio.synth import Rendered
from lightctl.errors import InvalidRequest, SynthesisFailed

SHA_A = hashlib.sha256(b"a").hexdigest()


def test_put_names_the_file_by_its_sha256(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips")
    clip = store.put(b"RIFF-audio", "wav")
    assert clip.sha256 == hashlib.sha256(b"RIFF-audio").hexdigest()
    assert clip.path == tmp_path / "clips" / f"{clip.sha256}.wav"
    assert clip.filename == f"{clip.sha256}.wav"
    assert clip.path.read_bytes() == b"RIFF-audio"
    assert clip.size == 10
    assert store.exists(clip.sha256, "wav")
    assert not store.exists(clip.sha256, "mp3")
    assert store.read(clip.sha256, "wav") == b"RIFF-audio"


def test_put_is_idempotent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    first = store.put(b"same", "mp3")
    # An hour-old modification time: a rewrite would set "now", whatever the file system's
    # timestamp resolution (no sleeping past it).
    old_ns = first.path.stat().st_mtime_ns - 3600 * 10**9
    os.utime(first.path, ns=(old_ns, old_ns))
    second = store.put(b"same", "mp3")
    assert second == first
    assert first.path.stat().st_mtime_ns == old_ns  # not rewritten
    store.put(b"other", "mp3")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{hashlib.sha256(d).hexdigest()}.mp3" for d in (b"same", b"other")
    )


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    store = ClipStore(tmp_path)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"data", "wav")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("sha", "ext"),
    [
        ("../../etc/passwd", "wav"),
        (SHA_A[:-1] + "/", "wav"),
        (SHA_A.upper(), "wav"),
        (SHA_A + "\n", "wav"),
        (SHA_A[:63], "wav"),
        (SHA_A, "wav/../../x"),
        (SHA_A, "json"),
        (SHA_A, "WAV"),
        (SHA_A, ""),
    ],
)
def test_path_for_refuses_anything_but_digest_and_known_ext(
    tmp_path: Path, sha: str, ext: str
) -> None:
    store = ClipStore(tmp_path)
    with pytest.raises(InvalidRequest):
        store.path_for(sha, ext)
    with pytest.raises(InvalidRequest):
        store.exists(sha, ext)


def test_put_refuses_unknown_ext_and_empty_data(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    with pytest.raises(InvalidRequest):
        store.put(b"x", "../x")
    with pytest.raises(InvalidRequest):
        store.put(b"", "wav")


def test_parse_clip_name() -> None:
    assert parse_clip_name(f"{SHA_A}.mp3") == (SHA_A, "mp3")
    for bad in (SHA_A, f"{SHA_A}.mp3.exe", f"../{SHA_A}.mp3", f"{SHA_A}.speech.json"):
        with pytest.raises(InvalidRequest):
            parse_clip_name(bad)


class CountingSynth:
    """Renders a distinct fake WAV per text and counts calls; can be made slow or failing."""

    def __init__(self, name: str = "espeak-ng", delay_s: float = 0.0) -> None:
        self.name = name
        self.delay_s = delay_s
        self.calls: list[tuple[str, str]] = []
        self.fail = False
        self.reason: str | None = None

    def supports(self, lang: str) -> bool:
        return True

    def render(self, text: str, lang: str) -> Rendered:
        self.calls.append((text, lang))
        time.sleep(self.delay_s)  # not a wait: a slow engine is this fake's behaviour
        if self.fail:
            raise SynthesisFailed(lang, "engine down", self.name)
        data = f"{lang}:{text}".encode()
        if self.reason is not None:
            return FallbackRendered(data, "wav", 2.0, "espeak-ng", "gtts", self.reason)
        return Rendered(data, "wav", 2.0, self.name)


def test_second_call_uses_the_cache(tmp_path: Path) -> None:
    synth = CountingSynth()
    cache = SpeechCache(ClipStore(tmp_path), synth)
    first = cache.get_or_render("Achtung", "de")
    assert first == cache.get_or_render("Achtung", "de")
    assert synth.calls == [("Achtung", "de")]
    assert first == SpeechClip(
        hashlib.sha256(b"de:Achtung").hexdigest(), "wav", 2.0, "espeak-ng", "de", "Achtung"
    )
    assert ClipStore(tmp_path).read(first.sha256, "wav") == b"de:Achtung"


def test_cache_survives_a_restart(tmp_path: Path) -> None:
    first = SpeechCache(ClipStore(tmp_path), CountingSynth()).get_or_render("Achtung", "de")
    synth = CountingSynth()
    again = SpeechCache(ClipStore(tmp_path), synth).get_or_render("Achtung", "de")
    assert again == first
    assert synth.calls == []


def test_key_covers_engine_language_and_text(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    SpeechCache(store, CountingSynth()).get_or_render("Achtung", "de")
    synth = CountingSynth()
    cache = SpeechCache(store, synth)
    cache.get_or_render("Achtung", "de-LS")
    cache.get_or_render("Achtung!", "de")
    other_engine = CountingSynth(name="gtts>espeak-ng")
    SpeechCache(store, other_engine).get_or_render("Achtung", "de")
    assert synth.calls == [("Achtung", "de-LS"), ("Achtung!", "de")]
    assert other_engine.calls == [("Achtung", "de")]


def test_fallback_reason_is_kept_across_restart(tmp_path: Path) -> None:
    synth = CountingSynth(name="gtts>espeak-ng")
    synth.reason = "gtts failed: timeout"
    clip = SpeechCache(ClipStore(tmp_path), synth).get_or_render("Achtung", "de")
    assert clip.fallback_reason == "gtts failed: timeout"
    again = SpeechCache(ClipStore(tmp_path), CountingSynth(name="gtts>espeak-ng"))
    assert again.get_or_render("Achtung", "de").fallback_reason == "gtts failed: timeout"


@pytest.mark.parametrize("damage", ["corrupt_sidecar", "tampered_sha", "missing_clip"])
def test_damaged_entries_are_rendered_again(tmp_path: Path, damage: str) -> None:
    clip = SpeechCache(ClipStore(tmp_path), CountingSynth()).get_or_render("Achtung", "de")
    (sidecar,) = tmp_path.glob("*.speech.json")
    if damage == "corrupt_sidecar":
        sidecar.write_text("{not json")
    elif damage == "tampered_sha":
        doc = json.loads(sidecar.read_text())
        doc["clip"]["sha256"] = "../../etc/passwd"
        sidecar.write_text(json.dumps(doc))
    else:
        (tmp_path / clip.filename).unlink()
    synth = CountingSynth()
    assert SpeechCache(ClipStore(tmp_path), synth).get_or_render("Achtung", "de") == clip
    assert synth.calls == [("Achtung", "de")]


def test_failures_are_not_cached(tmp_path: Path) -> None:
    synth = CountingSynth()
    synth.fail = True
    cache = SpeechCache(ClipStore(tmp_path), synth)
    with pytest.raises(SynthesisFailed):
        cache.get_or_render("Achtung", "de")
    synth.fail = False
    assert cache.get_or_render("Achtung", "de").engine == "espeak-ng"
    assert len(synth.calls) == 2


def test_concurrent_callers_render_once(tmp_path: Path) -> None:
    synth = CountingSynth(delay_s=0.05)
    cache = SpeechCache(ClipStore(tmp_path), synth)
    results: list[SpeechClip] = []
    barrier = threading.Barrier(8)

    def call(text: str) -> None:
        barrier.wait()
        results.append(cache.get_or_render(text, "de"))

    threads = [threading.Thread(target=call, args=(f"text {i % 2}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(results) == 8
    assert sorted(synth.calls) == [("text 0", "de"), ("text 1", "de")]
    assert len({r.sha256 for r in results}) == 2
