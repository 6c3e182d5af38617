"""The root key that signs trust lists: files, what it signs, and the `lightctl keys` commands."""

from __future__ import annotations

import stat
from pathlib import Path

from firmware_sim.verifier import TrustRefusal, TrustVerifier
from lightctl.cli import app
from lightctl.protocol.trust import TrustList, TrustRoot
from lightctl.signing import KeyStore
from lightctl.signing.root import RootKey, public_path
from tests.support import cli_runner

# Wide, so no message is wrapped whatever the terminal (tests never depend on its width).
RUNNER = cli_runner()


def test_a_root_key_is_private_its_public_half_provisionable_and_never_overwritten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "offline" / "root.pem"
    root = RootKey.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = TrustRoot.from_bytes(public_path(path).read_bytes())
    assert public == root.public()
    assert public.kid == RootKey.load(path).kid  # the id follows from the key
    assert "PRIVATE" not in public_path(path).read_text()
    result = RUNNER.invoke(app, ["keys", "root-generate", "--out", str(path)])
    assert result.exit_code != 0
    assert "never overwritten" in result.output
    assert RootKey.load(path).kid == root.kid


def test_the_store_signs_with_a_root_beside_it_and_says_so_when_it_has_none(
    tmp_path: Path,
) -> None:
    store = KeyStore.in_data_dir(tmp_path)
    store.generate()
    assert TrustList.from_bytes(store.trust_path.read_bytes()).sig is None  # production: offline
    root = store.ensure_root()
    on_disk = TrustList.from_bytes(store.trust_path.read_bytes())
    assert on_disk.root_kid == root.kid
    verifier = TrustVerifier(on_disk, [root.public()])
    store.rotate(["ordinary"], activate_after_s=0)  # every later change is signed too
    assert verifier.offer(TrustList.from_bytes(store.trust_path.read_bytes())) is None
    assert verifier.version == 2
    # ensure() (development, demo) makes the root when it is missing.
    fresh = KeyStore.in_data_dir(tmp_path / "dev")
    fresh.ensure()
    assert fresh.root() is not None
    assert TrustList.from_bytes(fresh.trust_path.read_bytes()).sig is not None


def test_keys_trust_signs_with_the_offline_root_and_refuses_without_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = KeyStore.in_data_dir(data)
    store.generate()
    offline = tmp_path / "usb" / "root.pem"
    made = RUNNER.invoke(app, ["keys", "root-generate", "--out", str(offline)])
    assert made.exit_code == 0, made.output
    assert "root.pub.json" in made.output
    refused = RUNNER.invoke(app, ["keys", "trust", "--data-dir", str(data)])
    assert refused.exit_code == 2
    assert "--root-key" in refused.output
    out = tmp_path / "trust.json"
    signed = RUNNER.invoke(
        app,
        ["keys", "trust", "--data-dir", str(data), "--root-key", str(offline), "--out", str(out)],
    )
    assert signed.exit_code == 0, signed.output
    listed = TrustList.from_bytes(out.read_bytes())
    root = TrustRoot.from_bytes(public_path(offline).read_bytes())
    assert TrustVerifier(listed, [root]).version == 1
    forged = listed.model_copy(update={"version": 2})
    assert TrustVerifier(listed, [root]).offer(forged) == TrustRefusal.BAD_SIGNATURE
