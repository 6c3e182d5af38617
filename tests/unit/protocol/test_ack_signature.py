"""A signed ack round-trips model -> bytes -> model and its signature covers every field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware_sim.__main__ import _credentials
from lightctl.protocol import Ack, AckStatus
from lightctl.security.ack_keys import (
    AckKey,
    AckKeyFileError,
    generate_keys,
    read_private,
    read_public,
    signature_valid,
    write_public,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SHA = "a" * 64


def test_a_signed_ack_round_trips_and_verifies() -> None:
    key = AckKey.generate("LEU1")
    ack = key.sign(Ack(cmd_id="c1", lantern="LEU1", status=AckStatus.DONE, at=NOW, played=[SHA]))
    again = Ack.from_bytes(ack.to_bytes())
    assert again == ack
    assert again.kid == key.kid
    assert signature_valid(again, key.public.public_key)


@pytest.mark.parametrize(
    "change",
    [
        {"status": AckStatus.FAILED},
        {"cmd_id": "c2"},
        {"lantern": "LEU2"},
        {"played": [SHA, SHA]},
        {"reason": "x"},
        {"kid": "ak-0000000000000000"},
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, object]) -> None:
    key = AckKey.generate("LEU1")
    ack = key.sign(Ack(cmd_id="c1", lantern="LEU1", status=AckStatus.DONE, at=NOW, played=[SHA]))
    assert not signature_valid(ack.model_copy(update=change), key.public.public_key)


def test_junk_signatures_and_keys_are_just_invalid() -> None:
    key = AckKey.generate("LEU1")
    ack = Ack(cmd_id="c1", lantern="LEU1", status=AckStatus.RECEIVED, at=NOW, kid=key.kid)
    for sig in (None, "", "not base64!", "AAAA"):
        assert not signature_valid(ack.model_copy(update={"sig": sig}), key.public.public_key)
    assert not signature_valid(key.sign(ack), "not a key")


def test_key_files_round_trip_and_name_what_is_wrong(tmp_path: Path) -> None:
    keys = generate_keys(["L1", "L2"])
    write_public(tmp_path / "pub.json", keys)
    assert {k.lantern_id: k.public_key for k in read_public(tmp_path / "pub.json")} == {
        i: k.public.public_key for i, k in keys.items()
    }
    private = read_private({i: k.private_json() for i, k in keys.items()}, "creds.json")
    assert {i: k.public for i, k in private.items()} == {i: k.public for i, k in keys.items()}
    with pytest.raises(AckKeyFileError, match=r"creds.json: ack_keys.L1.private_key"):
        read_private({"L1": {"kid": "ak-1", "private_key": "short"}}, "creds.json")
    with pytest.raises(AckKeyFileError, match=r"ack_keys.L1.kid"):
        read_private({"L1": {"kid": "a/b", "private_key": "x"}}, "creds.json")


def test_the_simulator_loads_ack_keys_from_its_credentials_file(tmp_path: Path) -> None:
    keys = generate_keys(["L1"])
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"ack_keys": {"L1": keys["L1"].private_json()}}))
    passwords, loaded = _credentials(str(path))
    assert passwords is None
    assert loaded["L1"].public == keys["L1"].public
    path.write_text(json.dumps({"service": {}}))
    with pytest.raises(ValueError, match="no 'gateways' passwords and no 'ack_keys'"):
        _credentials(str(path))
