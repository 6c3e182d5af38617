"""Command signing: the service's Ed25519 keys on disk and the signer that uses them."""

from lightctl.signing.keystore import (
    DEFAULT_ACTIVATE_AFTER_S,
    DEFAULT_REPLAY_WINDOW_S,
    KeyRecord,
    KeyStatus,
    KeyStore,
    NoSigningKey,
    Registry,
)
from lightctl.signing.signer import CommandSigner

__all__ = [
    "DEFAULT_ACTIVATE_AFTER_S",
    "DEFAULT_REPLAY_WINDOW_S",
    "CommandSigner",
    "KeyRecord",
    "KeyStatus",
    "KeyStore",
    "NoSigningKey",
    "Registry",
]
