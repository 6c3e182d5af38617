"""Offline speech with eSpeak NG: the library from ``espeakng-loader`` or the CLI as a fallback."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from array import array
from dataclasses import dataclass
from pathlib import Path

from lightctl.audio.synth import Rendered
from lightctl.audio.wav import encode_wav, wav_duration_s
from lightctl.errors import SynthesisFailed

log = logging.getLogger(__name__)

ENGINE = "espeak-ng"

# speak_lib.h (API revision 12) constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # like RETRIEVAL, but espeak_Synth returns when audio is complete
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # sentence pause at the end, so clips do not stop abruptly
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() on missing data
_PARAM_RATE = 1
_EE_OK = 0
_BUFLENGTH_MS = 200  # callback buffer size; irrelevant to quality, fewer Python calls than 60 ms

_NORMAL_WPM = 175  # espeakRATE_NORMAL
# Easy German (Leichte Sprache) guidance asks for calm speech; 20 % slower stays natural.
_EASY_WPM = 140


@dataclass(frozen=True, slots=True)
class Voice:
    """An eSpeak NG voice name and the speaking rate used for one product language."""

    name: str
    wpm: int = _NORMAL_WPM


# Product language code → eSpeak NG voice (file names under espeak-ng-data/lang/).
VOICES: dict[str, Voice] = {
    "de": Voice("de"),
    "de-LS": Voice("de", _EASY_WPM),
    "en": Voice("en"),
    "tr": Voice("tr"),
    "ar": Voice("ar"),
    "uk": Voice("uk"),
    "ru": Voice("ru"),
    "pl": Voice("pl"),
    "fr": Voice("fr"),
    "es": Voice("es"),
    "it": Voice("it"),
}

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

# eSpeak NG keeps global state and is not re-entrant: every call into it, from any instance,
# happens under this one lock, and each library file is initialised once per process.
_LOCK = threading.Lock()
_LIBRARIES: dict[str, _Library] = {}


class _Library:
    """The loaded, initialised libespeak-ng; only used while ``_LOCK`` is held."""

    def __init__(self, lib: ctypes.CDLL, sample_rate: int) -> None:
        self.lib = lib
        self.sample_rate = sample_rate
        self.sink: list[bytes] = []
        # ctypes frees a callback whose Python object dies; this reference keeps it alive.
        self.callback = _SynthCallback(self._collect)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        if wav and count > 0:
            self.sink.append(ctypes.string_at(wav, count * 2))
        return 0  # 0 = continue synthesis

    def speak(self, text: str, voice: Voice) -> array[int]:
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != _EE_OK:
            raise RuntimeError(f"voice {voice.name!r} not found in eSpeak NG data")
        self.lib.espeak_SetParameter(_PARAM_RATE, voice.wpm, 0)
        encoded = text.encode("utf-8")
        self.sink = []
        try:
            status = self.lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            self.lib.espeak_Synchronize()
            chunks = self.sink
        finally:
            self.sink = []
        if status != _EE_OK:
            raise RuntimeError(f"espeak_Synth returned {status}")
        samples = array("h")
        samples.frombytes(b"".join(chunks))  # native order, as eSpeak wrote them
        return samples


# eSpeak NG copies its data path into a fixed buffer (N_PATH_HOME, 160 bytes on Linux) and falls
# back to its compiled-in path when it does not fit: a venv in a deep directory would lose speech.
MAX_DATA_PATH = 150


def short_data_path(data_path: str, link_dirs: tuple[str, ...] | None = None) -> str:
    """``data_path``, or a short symbolic link to it when it is too long for eSpeak NG."""
    if len(data_path.encode()) < MAX_DATA_PATH:
        return data_path
    digest = hashlib.sha256(data_path.encode()).hexdigest()[:12]
    # S108: a short, well-known directory is the point; the link names our uid, is checked before
    # reuse and replaced atomically, and one someone else owns cannot be replaced (next base).
    bases = (tempfile.gettempdir(), "/tmp", str(Path.home() / ".cache"))  # noqa: S108
    for base in link_dirs or bases:
        link = Path(base) / f"lightctl-espeak-{os.getuid()}-{digest}"
        if len(str(link).encode()) >= MAX_DATA_PATH:
            continue
        try:
            if link.is_symlink() and os.readlink(link) == data_path:
                return str(link)
            Path(base).mkdir(parents=True, exist_ok=True)
            staging = link.with_name(f"{link.name}.{os.getpid()}")
            staging.unlink(missing_ok=True)
            staging.symlink_to(data_path, target_is_directory=True)
            os.replace(staging, link)  # atomic: another process may be doing the same
            return str(link)
        except OSError as exc:
            log.warning("cannot link eSpeak NG data at %s: %s", link, exc)
    return data_path


def _load(library_path: str, data_path: str) -> _Library:
    """Load and initialise the library once; call with ``_LOCK`` held."""
    loaded = _LIBRARIES.get(library_path)
    if loaded is not None:
        return loaded
    lib = ctypes.CDLL(library_path)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,  # text
        ctypes.c_size_t,  # size
        ctypes.c_uint,  # position
        ctypes.c_int,  # position_type
        ctypes.c_uint,  # end_position
        ctypes.c_uint,  # flags
        ctypes.c_void_p,  # unique_identifier
        ctypes.c_void_p,  # user_data
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = ctypes.c_int
    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS,
        _BUFLENGTH_MS,
        short_data_path(data_path).encode(),
        _INITIALIZE_DONT_EXIT,
    )
    if rate <= 0:
        raise OSError(f"espeak_Initialize failed with data at {data_path!r}")
    library = _Library(lib, rate)
    lib.espeak_SetSynthCallback(library.callback)
    _LIBRARIES[library_path] = library
    log.info("eSpeak NG loaded from %s at %s Hz", library_path, rate)
    return library


def _default_paths() -> tuple[str | None, str | None]:
    try:
        import espeakng_loader
    except ImportError:
        return None, None
    try:
        return str(espeakng_loader.get_library_path()), str(espeakng_loader.get_data_path())
    except RuntimeError:  # the wheel ships without its data directory
        return str(espeakng_loader.get_library_path()), None


class OfflineSynthesizer:
    """Renders speech locally, so a warning never depends on the network."""

    name = ENGINE

    def __init__(
        self,
        *,
        library_path: str | None = None,
        data_path: str | None = None,
        binary: str | None = "espeak-ng",
        cli_timeout_s: float = 30.0,
    ) -> None:
        self._library_path = library_path
        self._data_path = data_path
        self._binary = binary
        self._cli_timeout_s = cli_timeout_s

    def supports(self, lang: str) -> bool:
        return lang in VOICES

    def render(self, text: str, lang: str) -> Rendered:
        voice = VOICES.get(lang)
        if voice is None:
            raise SynthesisFailed(lang, "no eSpeak NG voice for this language", ENGINE)
        # eSpeak reads a NUL-terminated string; a stray NUL would silently cut the text.
        clean = text.replace("\x00", " ").strip()
        if not clean:
            raise SynthesisFailed(lang, "empty text", ENGINE)
        library, why_not = self._library()
        if library is not None:
            return self._render_library(library, clean, lang, voice)
        binary = shutil.which(self._binary) if self._binary else None
        if binary is None:
            raise SynthesisFailed(
                lang, f"eSpeak NG library unavailable ({why_not}) and no espeak-ng binary", ENGINE
            )
        return self._render_cli(binary, clean, lang, voice)

    def _library(self) -> tuple[_Library | None, str]:
        lib_path, data_path = self._library_path, self._data_path
        if lib_path is None or data_path is None:
            default_lib, default_data = _default_paths()
            lib_path = lib_path or default_lib
            data_path = data_path or default_data
        if lib_path is None or data_path is None:
            return None, "espeakng-loader is not installed"
        try:
            with _LOCK:
                return _load(lib_path, data_path), ""
        except (OSError, AttributeError) as exc:
            log.warning("eSpeak NG library %s unusable: %s", lib_path, exc)
            return None, str(exc)

    def _render_library(self, library: _Library, text: str, lang: str, voice: Voice) -> Rendered:
        try:
            with _LOCK:
                samples = library.speak(text, voice)
        except RuntimeError as exc:
            raise SynthesisFailed(lang, str(exc), ENGINE) from exc
        if not samples:
            raise SynthesisFailed(lang, "eSpeak NG produced no audio", ENGINE)
        data = encode_wav(samples, library.sample_rate)
        return Rendered(data, "wav", len(samples) / library.sample_rate, ENGINE)

    def _render_cli(self, binary: str, text: str, lang: str, voice: Voice) -> Rendered:
        with tempfile.TemporaryDirectory(prefix="lightctl-espeak-") as tmp:
            out = Path(tmp) / "speech.wav"
            # Text goes through stdin (-b 1: UTF-8) so a text starting with "-" is not an option.
            cmd = [binary, "-v", voice.name, "-s", str(voice.wpm), "-b", "1", "-w", str(out)]
            cmd.append("--stdin")
            try:
                proc = subprocess.run(
                    cmd,
                    input=text.encode("utf-8"),
                    capture_output=True,
                    timeout=self._cli_timeout_s,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise SynthesisFailed(lang, f"espeak-ng binary failed: {exc}", ENGINE) from exc
            if proc.returncode != 0 or not out.exists():
                err = proc.stderr.decode("utf-8", "replace").strip()[:200]
                raise SynthesisFailed(
                    lang, f"espeak-ng exited with {proc.returncode}: {err}", ENGINE
                )
            data = out.read_bytes()
        try:
            duration = wav_duration_s(data)
        except ValueError as exc:
            raise SynthesisFailed(lang, f"espeak-ng wrote no valid WAV: {exc}", ENGINE) from exc
        if duration <= 0:
            raise SynthesisFailed(lang, "espeak-ng produced no audio", ENGINE)
        return Rendered(data, "wav", duration, ENGINE)
