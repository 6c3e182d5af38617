"""The simulated lanterns' non-volatile replay memory: written atomically, read back at boot."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from firmware_sim.effects import Reason
from firmware_sim.flash import FlashError, ReplayFlash

SEQ = 1_740_000_000_000_000


def test_what_a_guard_accepts_is_in_flash_at_once_and_on_disk_after_a_flush(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "replay.sim.json"
    flash = ReplayFlash(path, lambda: 600.0)
    asked: list[int] = []
    flash.on_dirty = lambda: asked.append(1)
    guard = flash.guard("L1")
    guard.accept("k1", SEQ)
    guard.accept("k1", SEQ + 5)
    assert asked == [1]  # one request to write per batch of changes
    # A reboot boots from flash, not from RAM: both seqs are refused, before any write.
    rebooted = flash.guard("L1")
    assert rebooted.check("k1", SEQ) == Reason.REPLAYED
    assert not path.exists()
    flash.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_bytes())["lanterns"]["L1"]["k1"]["seen"] == [SEQ, SEQ + 5]
    assert list(path.parent.glob(".*.tmp")) == []  # no temp file left behind
    # A guard from before the reboot writes nothing any more: flash follows the running one.
    guard.accept("k1", SEQ + 9)
    assert flash.image("L1")["k1"]["high"] == SEQ + 5

    # Next start of the simulator: the file is the memory.
    again = ReplayFlash(path, lambda: 600.0).guard("L1")
    assert again.check("k1", SEQ + 5) == Reason.REPLAYED
    assert again.check("k1", SEQ + 6) is None
    assert ReplayFlash(path, lambda: 600.0).guard("L2").highest("k1") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"v": 7, "lanterns": {}}', "version 1"),
        (b'{"v": 1, "lanterns": []}', "'lanterns' must be an object"),
        (b'{"v": 1, "lanterns": {"L1": {"k": {"high": "x"}}}}', "lantern L1: key 'k'"),
    ],
)
def test_a_damaged_memory_file_is_refused_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "replay.sim.json"
    path.write_bytes(content)
    with pytest.raises(FlashError, match=message) as info:
        ReplayFlash(path, lambda: 600.0)
    assert str(path) in str(info.value)
