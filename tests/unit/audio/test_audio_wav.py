"""WAV round trips and MP3 duration from frame headers."""

from __future__ import annotations

from array import array
from collections.abc import Callable

import pytest

from lightctl.audio.wav import (
    decode_wav,
    encode_wav,
    mp3_duration_s,
    parse_mpeg_header,
    wav_duration_s,
)

FRAME_S = 576 / 24000  # one MPEG-2 layer III frame at 24 kHz, as the make_mp3 fixture builds
Mp3 = Callable[..., bytes]


def test_wav_round_trip_keeps_samples_and_rate() -> None:
    samples = array("h", [0, 1000, -1000, 32767, -32768] * 441)
    data = encode_wav(samples, 22050)
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    pcm = decode_wav(data)
    assert pcm.sample_rate == 22050
    assert list(pcm.samples) == list(samples)
    assert wav_duration_s(data) == pytest.approx(len(samples) / 22050)


def test_wav_from_little_endian_bytes() -> None:
    data = encode_wav(b"\x01\x00\xff\xff", 8000)
    assert list(decode_wav(data).samples) == [1, -1]


def test_wav_refuses_odd_byte_count() -> None:
    with pytest.raises(ValueError, match="even"):
        encode_wav(b"\x00", 8000)


@pytest.mark.parametrize("data", [b"", b"RIFF not really"])
def test_wav_duration_of_garbage_raises(data: bytes) -> None:
    with pytest.raises(ValueError, match="WAV"):
        wav_duration_s(data)
    with pytest.raises(ValueError, match="WAV"):
        decode_wav(data)


def test_gtts_header_is_parsed_as_mpeg2_layer3() -> None:
    frame = parse_mpeg_header(bytes([0xFF, 0xF3, 0x44, 0xC0]))
    assert frame is not None
    assert (frame.length, frame.samples, frame.sample_rate) == (96, 576, 24000)


def test_mpeg1_header_with_padding() -> None:
    # 0xFB: MPEG-1 layer III; 0x92: 128 kbit/s, 44.1 kHz, padding bit set.
    frame = parse_mpeg_header(bytes([0xFF, 0xFB, 0x92, 0x00]))
    assert frame is not None
    assert (frame.length, frame.samples, frame.sample_rate) == (418, 1152, 44100)


@pytest.mark.parametrize("header", [b"\xff\xf3\xf4\xc0", b"\xff\xf3\x4c\xc0", b"\xff\xeb\x44\xc0"])
def test_invalid_headers_are_refused(header: bytes) -> None:
    # bitrate index 15, sample-rate index 3, reserved version 01
    assert parse_mpeg_header(header) is None


def test_mp3_duration_counts_frames_after_id3_tag(make_mp3: Mp3) -> None:
    assert make_mp3(125).startswith(b"ID3")
    assert mp3_duration_s(make_mp3(125)) == pytest.approx(3.0)
    assert mp3_duration_s(make_mp3(125, tag=False)) == pytest.approx(3.0)


def test_mp3_duration_of_concatenated_tagged_parts(make_mp3: Mp3) -> None:
    data = make_mp3(50) + make_mp3(25)
    assert mp3_duration_s(data) == pytest.approx(75 * FRAME_S)


def test_mp3_truncated_last_frame_is_not_counted(make_mp3: Mp3) -> None:
    data = make_mp3(10)[:-20]
    assert mp3_duration_s(data) == pytest.approx(9 * FRAME_S)


def test_mp3_skips_xing_info_frame_and_id3v1_trailer(id3_tag: Callable[[], bytes]) -> None:
    header = bytes([0xFF, 0xF3, 0x44, 0xC0])
    info = header + bytes(13) + b"Info" + bytes(96 - 21)
    frame = header + bytes(92)
    data = id3_tag() + info + frame * 10 + b"TAG" + bytes(125)
    assert mp3_duration_s(data) == pytest.approx(10 * FRAME_S)


def test_mp3_resyncs_over_garbage_between_frames() -> None:
    frame = bytes([0xFF, 0xF3, 0x44, 0xC0]) + bytes(92)
    assert mp3_duration_s(frame * 5 + b"junk" + frame * 5) == pytest.approx(10 * FRAME_S)


@pytest.mark.parametrize(
    "data",
    [b"", b"<html>quota exceeded</html>", b"ID3\x04\x00\x00\x00\x00\x00\x00", b"\xff\xf3\x44\xc0"],
)
def test_mp3_without_frames_raises(data: bytes) -> None:
    with pytest.raises(ValueError, match="no MPEG audio frames"):
        mp3_duration_s(data)
