"""A signing key store and a signer at a fixed moment, for the simulated firmware's trust tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lightctl.signing import CommandSigner, KeyStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
US = 1_000_000


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    keys = KeyStore.in_data_dir(tmp_path, lambda: T0)
    keys.generate(replay_window_s=60)
    keys.ensure_root()
    return keys


@pytest.fixture
def signer(store: KeyStore) -> CommandSigner:
    """Signs at T0 with sequence numbers counting up from T0 in microseconds."""
    seq = iter(range(int(T0.timestamp() * US), 2**62))
    return CommandSigner(store, lambda: T0, lambda: next(seq))
