"""Per-lantern Ed25519 ack keys: made with the lantern's broker credentials, the private half
provisioned into the lantern, the public half stored by the service to check every ack.

A signed ack is proof that *the lantern* said it, not merely someone allowed to publish on its
topic: a compromised gateway or broker account cannot make "done, played these clips" up.

Files:
- ``credentials.json`` (private, 0600) gains ``"ack_keys": {lantern: {"kid", "private_key"}}``
  next to the broker passwords: what `firmware-sim --credentials` and real lanterns load;
- ``lantern-keys.json`` holds only public halves, ``{"v": 1, "lanterns": {lantern: {"kid",
  "public_key"}}}``: what `lightctl mqtt lantern-keys import` stores in the database.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lightctl.protocol import Ack, is_valid_lantern_id
from lightctl.protocol.trust import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, b64decode, b64encode

PUBLIC_FILE = "lantern-keys.json"
PRIVATE_KEY_BYTES = 32
# "ak-" and 16 hex digits: 64 random bits keep kids of 40,000 lanterns apart (collision odds
# ~1e-10) without naming the lantern, so a kid alone says nothing to an eavesdropper.
KID_PREFIX = "ak-"


class AckKeyFileError(ValueError):
    """An ack key file cannot be used; the message names the file, the lantern and the field."""


@dataclass(frozen=True, slots=True)
class PublicAckKey:
    lantern_id: str
    kid: str
    public_key: str  # base64 of the 32-byte Ed25519 public key


@dataclass(frozen=True, slots=True)
class AckKey:
    """One lantern's private ack key (what the lantern is provisioned with)."""

    lantern_id: str
    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, lantern_id: str) -> AckKey:
        return cls(lantern_id, KID_PREFIX + secrets.token_hex(8), Ed25519PrivateKey.generate())

    @property
    def public(self) -> PublicAckKey:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return PublicAckKey(self.lantern_id, self.kid, b64encode(raw))

    def sign(self, ack: Ack) -> Ack:
        """``ack`` with this key's ``kid`` and a signature over everything else."""
        unsigned = ack.model_copy(update={"kid": self.kid, "sig": None})
        signature = b64encode(self.private.sign(unsigned.signing_bytes()))
        return unsigned.model_copy(update={"sig": signature})

    def private_json(self) -> dict[str, str]:
        raw = self.private.private_bytes_raw()
        return {"kid": self.kid, "private_key": b64encode(raw)}


def generate_keys(lantern_ids: list[str]) -> dict[str, AckKey]:
    return {lantern_id: AckKey.generate(lantern_id) for lantern_id in lantern_ids}


def signature_valid(ack: Ack, public_key: str, signed: bytes | None = None) -> bool:
    """True when ``ack.sig`` is the Ed25519 signature of ``public_key`` over the ack
    (``signed``: ``ack.signing_bytes()`` when the caller has it already)."""
    raw_key = b64decode(public_key, PUBLIC_KEY_BYTES)
    raw_sig = b64decode(ack.sig, SIGNATURE_BYTES) if ack.sig is not None else None
    if raw_key is None or raw_sig is None:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(raw_key)
        key.verify(raw_sig, signed if signed is not None else ack.signing_bytes())
    except InvalidSignature:
        return False
    return True


def public_document(keys: dict[str, AckKey]) -> dict[str, Any]:
    lanterns = {
        lid: {"kid": k.public.kid, "public_key": k.public.public_key} for lid, k in keys.items()
    }
    return {"v": 1, "lanterns": lanterns}


def write_public(path: Path, keys: dict[str, AckKey]) -> None:
    path.write_text(json.dumps(public_document(keys), indent=1) + "\n", encoding="utf-8")


def write_private(path: Path, keys: dict[str, AckKey]) -> None:
    """A credentials file holding only ack keys (0600 from the start), for a fleet on a broker
    whose accounts are made elsewhere."""
    body = {"ack_keys": {lid: key.private_json() for lid, key in keys.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(body, indent=1) + "\n")
    os.chmod(path, 0o600)


def read_public(path: Path) -> list[PublicAckKey]:
    """Public keys of ``lantern-keys.json``; ``AckKeyFileError`` names the first bad entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AckKeyFileError(f"{path}: cannot read it as JSON: {exc}") from None
    lanterns = data.get("lanterns") if isinstance(data, dict) else None
    if not isinstance(lanterns, dict):
        raise AckKeyFileError(f"{path}: no 'lanterns' object (lantern id -> kid, public_key)")
    out: list[PublicAckKey] = []
    for lantern_id, entry in lanterns.items():
        where = f"{path}: lanterns.{lantern_id}"
        kid, public_key = _fields(entry, where, "public_key")
        if b64decode(public_key, PUBLIC_KEY_BYTES) is None:
            raise AckKeyFileError(f"{where}.public_key: not base64 of a 32-byte Ed25519 key")
        out.append(PublicAckKey(str(lantern_id), kid, public_key))
    return out


def read_private(section: object, where: str) -> dict[str, AckKey]:
    """The ``ack_keys`` object of a credentials file (lantern id -> kid, private_key)."""
    if not isinstance(section, dict):
        raise AckKeyFileError(f"{where}: 'ack_keys' must be an object (lantern id -> key)")
    out: dict[str, AckKey] = {}
    for lantern_id, entry in section.items():
        at = f"{where}: ack_keys.{lantern_id}"
        kid, private_key = _fields(entry, at, "private_key")
        raw = b64decode(private_key, PRIVATE_KEY_BYTES)
        if raw is None:
            raise AckKeyFileError(f"{at}.private_key: not base64 of a 32-byte Ed25519 key")
        out[str(lantern_id)] = AckKey(
            str(lantern_id), kid, Ed25519PrivateKey.from_private_bytes(raw)
        )
    return out


def _fields(entry: object, where: str, key_field: str) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise AckKeyFileError(f"{where}: must be an object with kid and {key_field}")
    kid, key = entry.get("kid"), entry.get(key_field)
    if not isinstance(kid, str) or not is_valid_lantern_id(kid):
        raise AckKeyFileError(f"{where}.kid: missing or not 1-64 letters, digits, . _ : -")
    if not isinstance(key, str):
        raise AckKeyFileError(f"{where}.{key_field}: missing")
    return kid, key
