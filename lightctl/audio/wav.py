"""WAV encoding and MP3/WAV duration reading, so every clip carries an exact length."""

from __future__ import annotations

import io
import sys
import wave
from array import array
from dataclasses import dataclass

# WAV stores samples little-endian; array("h") uses the machine's order.
_NEEDS_SWAP = sys.byteorder == "big"


@dataclass(frozen=True, slots=True)
class Pcm:
    """Decoded mono int16 samples and their rate."""

    samples: array[int]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def encode_wav(samples: array[int] | bytes, sample_rate: int) -> bytes:
    """Wrap mono int16 PCM (an ``array('h')`` or little-endian bytes) in a WAV container."""
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if isinstance(samples, array):
        if samples.typecode != "h":
            raise ValueError(f"expected int16 samples (typecode 'h'), got {samples.typecode!r}")
        pcm = _to_little_endian(samples)
    else:
        if len(samples) % 2:
            raise ValueError("int16 PCM must have an even number of bytes")
        pcm = bytes(samples)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return out.getvalue()


def decode_wav(data: bytes) -> Pcm:
    """Read a mono int16 WAV back into samples; raises ``ValueError`` for anything else."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(
                    f"expected mono int16, got {w.getnchannels()} channels "
                    f"of {w.getsampwidth() * 8} bit"
                )
            rate = w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a readable WAV: {exc}") from exc
    samples = array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % 2])
    if _NEEDS_SWAP:
        samples.byteswap()
    return Pcm(samples, rate)


def wav_duration_s(data: bytes) -> float:
    """Length of any PCM WAV in seconds (frames / rate), read from its header."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            rate = w.getframerate()
            if rate <= 0:
                raise ValueError("WAV declares a sample rate of 0")
            return w.getnframes() / rate
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a readable WAV: {exc}") from exc


def _to_little_endian(samples: array[int]) -> bytes:
    if not _NEEDS_SWAP:
        return samples.tobytes()
    swapped = array("h", samples)
    swapped.byteswap()
    return swapped.tobytes()


# --- MPEG audio -------------------------------------------------------------------------------
# Frame header layout (ISO 11172-3 / 13818-3): 11 sync bits, version (2), layer (2), CRC (1),
# bitrate index (4), sample-rate index (2), padding (1), then fields we do not need.

_V1, _V2, _V25 = 3, 2, 0  # version bits; 1 is reserved
_L1, _L2, _L3 = 3, 2, 1  # layer bits; 0 is reserved

_SAMPLE_RATES = {
    _V1: (44100, 48000, 32000),
    _V2: (22050, 24000, 16000),
    _V25: (11025, 12000, 8000),
}
# kbit/s for bitrate indices 1..14 (0 is "free format", 15 is invalid).
_BITRATES_V1 = {
    _L1: (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    _L2: (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    _L3: (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
}
_BITRATES_V2 = {
    _L1: (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    _L2: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    _L3: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


@dataclass(frozen=True, slots=True)
class MpegFrame:
    """What one MPEG audio frame header says about the frame."""

    length: int  # bytes, header included
    samples: int  # per channel
    sample_rate: int
    version: int


def parse_mpeg_header(header: bytes) -> MpegFrame | None:
    """Decode a 4-byte MPEG audio frame header, or ``None`` if it is not a valid one."""
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return None
    version = (header[1] >> 3) & 0x3
    layer = (header[1] >> 1) & 0x3
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0x3
    padding = (header[2] >> 1) & 0x1
    if version == 1 or layer == 0 or rate_index == 3 or bitrate_index in (0, 15):
        return None
    rate = _SAMPLE_RATES[version][rate_index]
    table = _BITRATES_V1 if version == _V1 else _BITRATES_V2
    bitrate = table[layer][bitrate_index - 1] * 1000
    if layer == _L1:
        return MpegFrame((12 * bitrate // rate + padding) * 4, 384, rate, version)
    if layer == _L3 and version != _V1:
        # MPEG-2/2.5 layer III frames hold half the samples (576), hence 72 instead of 144.
        return MpegFrame(72 * bitrate // rate + padding, 576, rate, version)
    return MpegFrame(144 * bitrate // rate + padding, 1152, rate, version)


def _id3v2_size(data: bytes, pos: int) -> int:
    """Bytes an ID3v2 tag at ``pos`` occupies (0 if none); its size is a 28-bit syncsafe int."""
    head = data[pos : pos + 10]
    if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def _is_vbr_info_frame(data: bytes, pos: int, frame: MpegFrame) -> bool:
    # Encoders put a Xing/Info/VBRI header in a first frame that decoders skip as silence.
    body = data[pos + 4 : pos + min(frame.length, 64)]
    return any(tag in body for tag in (b"Xing", b"Info", b"VBRI"))


def mp3_duration_s(data: bytes) -> float:
    """Length of an MP3 in seconds: frames × samples per frame / rate, skipping ID3 tags.

    Concatenated MP3s (gTTS returns one per ~100-character text part) are handled, because ID3v2
    tags are skipped wherever a frame could start. Raises ``ValueError`` when no frame is found.
    """
    pos, end = 0, len(data)
    if end >= 128 and data[end - 128 : end - 125] == b"TAG":
        end -= 128  # ID3v1 trailer
    first: MpegFrame | None = None
    seconds = 0.0
    frames = 0
    while pos + 4 <= end:
        tag = _id3v2_size(data, pos)
        if tag:
            pos += tag
            continue
        frame = parse_mpeg_header(data[pos : pos + 4])
        synced = frame is not None and (first is None or frame.version == first.version)
        if frame is None or not synced or pos + frame.length > end:
            if frame is not None and synced and frames:
                break  # truncated last frame: a decoder drops it, so do we
            pos += 1  # garbage between frames: resynchronise byte by byte
            continue
        if first is None:
            if not _confirmed(data, pos, frame, end):
                pos += 1  # a lone 0xFFE pattern inside garbage is not a stream yet
                continue
            first = frame
            if _is_vbr_info_frame(data, pos, frame):
                pos += frame.length
                continue
        seconds += frame.samples / frame.sample_rate
        frames += 1
        pos += frame.length
    if frames == 0:
        raise ValueError("no MPEG audio frames found")
    return seconds


def _confirmed(data: bytes, pos: int, frame: MpegFrame, end: int) -> bool:
    """True when the frame ends the data or is followed by another frame or an ID3 tag."""
    nxt = pos + frame.length
    if nxt >= end:
        return True
    if _id3v2_size(data, nxt):
        return True
    follower = parse_mpeg_header(data[nxt : nxt + 4])
    return follower is not None and follower.version == frame.version
