"""Fixtures for audio tests: hand-built MP3 frames (as gTTS would return) and a loudness measure.

Helpers are handed out as fixtures, not imported, because several ``conftest`` modules share one
name and ``from conftest import ...`` would depend on which one pytest loaded last.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

import pytest

# MPEG-2 layer III, no CRC, 32 kbit/s, 24 kHz, mono: what Google's TTS returns.
# 0xF3 = sync bits + version 10 (MPEG-2) + layer 01 (III) + no CRC; 0x44 = bitrate index 4
# (32 kbit/s) + rate index 1 (24000 Hz); 0xC0 = mono. Frame: 72 * 32000 / 24000 = 96 bytes,
# 576 samples = 24 ms.
GTTS_HEADER = bytes([0xFF, 0xF3, 0x44, 0xC0])
GTTS_FRAME_BYTES = 96


def _id3v2_tag(payload: bytes = b"TSSE\x00\x00\x00\x05\x00\x00Lavf") -> bytes:
    size = len(payload)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + payload


def _gtts_like_mp3(frames: int, *, tag: bool = True) -> bytes:
    frame = GTTS_HEADER + bytes(GTTS_FRAME_BYTES - 4)
    return (_id3v2_tag() if tag else b"") + frame * frames


@pytest.fixture
def make_mp3() -> Callable[..., bytes]:
    """``make_mp3(n, tag=True)``: n valid 24 ms frames with zeroed bodies, ID3v2-tagged."""
    return _gtts_like_mp3


@pytest.fixture
def id3_tag() -> Callable[[], bytes]:
    return _id3v2_tag


def _rms(samples: array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


@pytest.fixture
def rms() -> Callable[[array[int]], float]:
    """Root mean square of int16 samples: silence is 0, normal speech is several hundred."""
    return _rms
