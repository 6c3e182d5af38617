"""eSpeak NG keeps its data path in a 160-byte buffer: a venv in a deep directory (a long clone
path) would silently lose German speech. The engine then speaks through a short link instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightctl.audio.espeak import MAX_DATA_PATH, short_data_path
from tests.support import ROOT, fixed_env


def test_a_short_path_is_used_as_it_is(tmp_path: Path) -> None:
    assert short_data_path(str(tmp_path)) == str(tmp_path)


def test_a_long_path_becomes_a_short_link_to_the_same_directory(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["d" * 30] * 6), "espeak-ng-data")
    deep.mkdir(parents=True)
    (deep / "phontab").write_bytes(b"x")
    links = tmp_path / "l"
    short = short_data_path(str(deep), (str(links),))
    assert len(short.encode()) < MAX_DATA_PATH < len(str(deep).encode())
    assert (Path(short) / "phontab").read_bytes() == b"x"
    assert short_data_path(str(deep), (str(links),)) == short  # reused, not made again
    assert os.readlink(short) == str(deep)


def test_speech_still_works_from_a_deep_copy_of_the_data(tmp_path: Path) -> None:
    """In a fresh process (the library initialises once per process), with no espeak-ng binary
    to fall back on: the library itself must find its data through the long path."""
    espeakng_loader = pytest.importorskip("espeakng_loader")
    deep = tmp_path.joinpath(*(["d" * 30] * 6))
    deep.mkdir(parents=True)
    data = deep / "espeak-ng-data"
    data.symlink_to(espeakng_loader.get_data_path(), target_is_directory=True)
    script = (
        "import sys; from lightctl.audio.espeak import OfflineSynthesizer as S; "
        "r = S(library_path=sys.argv[1], data_path=sys.argv[2], binary=None)"
        ".render('Brand in der Bahnhofstrasse.', 'de'); print(r.duration_s)"
    )
    lib = str(espeakng_loader.get_library_path())
    done = subprocess.run(
        [sys.executable, "-c", script, lib, str(data)],
        env=fixed_env({**os.environ, "PYTHONPATH": str(ROOT)}),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert float(done.stdout.decode().strip()) > 0.5
