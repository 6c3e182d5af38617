"""Content-addressed clip files and a speech cache on top, so a text is synthesised only once."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lightctl.audio.fallback import fallback_reason_of
from lightctl.audio.synth import Synthesizer
from lightctl.errors import InvalidRequest

log = logging.getLogger(__name__)

AUDIO_EXTS = frozenset({"wav", "mp3"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SIDECAR_SUFFIX = ".speech.json"
_SIDECAR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Clip:
    """One stored audio file, named by the SHA-256 of its bytes."""

    sha256: str
    ext: str
    path: Path
    size: int

    @property
    def filename(self) -> str:
        return f"{self.sha256}.{self.ext}"


def parse_clip_name(filename: str) -> tuple[str, str]:
    """Split ``{sha256}.{ext}`` (as lanterns request it) after validating both parts."""
    sha, dot, ext = filename.partition(".")
    if not dot:
        raise InvalidRequest.at(("clip",), "must look like {sha256}.{ext}", filename[:80])
    return _check_sha(sha), _check_ext(ext)


def _check_sha(sha256: str) -> str:
    # fullmatch, not match with "$": "$" would also accept a trailing newline.
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise InvalidRequest.at(("sha256",), "must be 64 lowercase hex digits", str(sha256)[:80])
    return sha256


def _check_ext(ext: str) -> str:
    if ext not in AUDIO_EXTS:
        raise InvalidRequest.at(
            ("ext",), "unsupported clip type", str(ext)[:20], tuple(sorted(AUDIO_EXTS))
        )
    return ext


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; operators and web servers may read clips
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class ClipStore:
    """Audio files in one directory, named ``{sha256}.{ext}``; equal bytes are stored once."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, sha256: str, ext: str) -> Path:
        """Where a clip lives; refuses anything but a hex digest and a known extension."""
        return self.directory / f"{_check_sha(sha256)}.{_check_ext(ext)}"

    def exists(self, sha256: str, ext: str) -> bool:
        return self.path_for(sha256, ext).is_file()

    def read(self, sha256: str, ext: str) -> bytes:
        return self.path_for(sha256, ext).read_bytes()

    def put(self, data: bytes, ext: str) -> Clip:
        """Store ``data`` under its digest; storing the same bytes again writes nothing."""
        if not data:
            raise InvalidRequest.at(("data",), "a clip cannot be empty")
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha, ext)
        if not path.is_file():
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
            log.debug("stored clip %s.%s (%s bytes)", sha, ext, len(data))
        return Clip(sha, ext, path, len(data))

    def put_sidecar(self, key: str, payload: dict[str, Any]) -> None:
        """Store a small JSON document next to the clips under a hex ``key``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        _write_atomic(self._sidecar_path(key), data)

    def get_sidecar(self, key: str) -> dict[str, Any] | None:
        """The JSON document stored under ``key``, or ``None`` if absent or unreadable."""
        path = self._sidecar_path(key)
        try:
            payload = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable sidecar %s: %s", path, exc)
            return None
        return payload if isinstance(payload, dict) else None

    def _sidecar_path(self, key: str) -> Path:
        return self.directory / f"{_check_sha(key)}{_SIDECAR_SUFFIX}"


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """A rendered text: which clip holds it, how long it plays, and who spoke it."""

    sha256: str
    ext: str
    duration_s: float
    engine: str
    lang: str
    text: str
    fallback_reason: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.sha256}.{self.ext}"


class SpeechCache:
    """Renders each (engine preference, language, text) once and remembers it across restarts.

    Thread-safe: one lock per key, so one text is never synthesised twice at once while different
    texts render in parallel (eSpeak NG still serialises itself internally).
    """

    def __init__(self, store: ClipStore, synthesizer: Synthesizer) -> None:
        self._store = store
        self._synth = synthesizer
        self._memory: dict[str, SpeechClip] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key_for(self, text: str, lang: str) -> str:
        """Cache key: SHA-256 of the JSON triple, so no separator can make two inputs collide."""
        triple = json.dumps([self._synth.name, lang, text], ensure_ascii=False)
        return hashlib.sha256(triple.encode("utf-8")).hexdigest()

    def get_or_render(self, text: str, lang: str) -> SpeechClip:
        """The clip for ``text`` in ``lang``, synthesised only on a miss (or SynthesisFailed)."""
        key = self.key_for(text, lang)
        with self._guard:
            hit = self._memory.get(key)
            if hit is not None:
                return hit
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                hit = self._memory.get(key)
            if hit is None:
                hit = self._load(key, text, lang) or self._render(key, text, lang)
                with self._guard:
                    self._memory[key] = hit
                    self._locks.pop(key, None)  # later callers find the memory entry first
        return hit

    def _load(self, key: str, text: str, lang: str) -> SpeechClip | None:
        doc = self._store.get_sidecar(key)
        if doc is None:
            return None
        try:
            if doc.get("version") != _SIDECAR_VERSION or doc.get("engine_preference") != (
                self._synth.name
            ):
                raise ValueError("written for another version or engine")
            fields = doc["clip"]
            reason = fields.get("fallback_reason")
            clip = SpeechClip(
                sha256=str(fields["sha256"]),
                ext=str(fields["ext"]),
                duration_s=float(fields["duration_s"]),
                engine=str(fields["engine"]),
                lang=str(fields["lang"]),
                text=str(fields["text"]),
                fallback_reason=None if reason is None else str(reason),
            )
            if (clip.lang, clip.text) != (lang, text):
                raise ValueError("sidecar describes another text")
            if not self._store.exists(clip.sha256, clip.ext):  # validates sha and ext too
                raise ValueError(f"clip {clip.filename} is missing")
        except (KeyError, TypeError, ValueError, AttributeError, InvalidRequest) as exc:
            log.warning("re-rendering speech %s: sidecar unusable: %s", key, exc)
            return None
        return clip

    def _render(self, key: str, text: str, lang: str) -> SpeechClip:
        rendered = self._synth.render(text, lang)
        stored = self._store.put(rendered.data, rendered.ext)
        clip = SpeechClip(
            sha256=stored.sha256,
            ext=stored.ext,
            duration_s=rendered.duration_s,
            engine=rendered.engine,
            lang=lang,
            text=text,
            fallback_reason=fallback_reason_of(rendered),
        )
        doc = {"version": _SIDECAR_VERSION, "engine_preference": self._synth.name}
        self._store.put_sidecar(key, {**doc, "clip": asdict(clip)})
        log.info(
            "rendered %s speech with %s: %s (%.1f s)",
            lang,
            clip.engine,
            clip.filename,
            clip.duration_s,
        )
        return clip
