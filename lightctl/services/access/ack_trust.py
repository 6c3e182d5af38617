"""Whether an ack really comes from the lantern it names: its own Ed25519 key signed it.

A lantern the service holds an (unrevoked) key for must sign every ack with one of its keys;
an unsigned ack, one under another lantern's key, an unknown key or a bad signature is refused.
A lantern without a key is believed unsigned (protocol v1 as first shipped) or signed by a key the
service does not hold (not under another lantern's key), unless the service is told that every
ack must be signed and verified (``acks_must_be_signed``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from enum import StrEnum

from lightctl.protocol import Ack
from lightctl.security.ack_keys import signature_valid

# (kid, sig, signed bytes) found good: a QoS 1 duplicate or a lantern's repeated last ack costs
# no second Ed25519 verification (~0.1 ms). 8,192 entries of ~300 bytes stay under 3 MB.
VERIFIED_CACHE = 8192


class AckForgery(StrEnum):
    UNSIGNED = "unsigned"  # no kid/sig from a lantern that has a key (or when all must sign)
    FOREIGN_KEY = "foreign_key"  # signed with a key of another lantern
    UNKNOWN_KEY = "unknown_key"  # a kid the service does not hold (or a revoked one)
    BAD_SIGNATURE = "bad_signature"  # the lantern's own kid, but the signature does not match


class AckTrust:
    """Checks acks against the lanterns' public keys (looked up by the caller per batch)."""

    def __init__(self, require_signatures: bool = False) -> None:
        self.require_signatures = require_signatures
        self._verified: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()

    def check(
        self,
        ack: Ack,
        own_keys: Mapping[str, str] | None,
        owner_of_kid: str | None,
    ) -> AckForgery | None:
        """None when the ack may be believed; else why not.

        ``own_keys``: the lantern's unrevoked keys (kid -> public key), None or empty when it has
        none; ``owner_of_kid``: which lantern the ack's ``kid`` belongs to, if any.
        """
        if ack.kid is None or ack.sig is None:
            if own_keys or self.require_signatures:
                return AckForgery.UNSIGNED
            return None
        if owner_of_kid is not None and owner_of_kid != ack.lantern:
            return AckForgery.FOREIGN_KEY
        if not own_keys and not self.require_signatures:
            # Signed by a lantern whose public key was never stored (its credentials made, the
            # `lantern-keys` import not done yet): no more proof than an unsigned ack, which
            # such a lantern may send. Counted by the consumer (ack_unverified).
            return None
        public_key = (own_keys or {}).get(ack.kid)
        if public_key is None:
            return AckForgery.UNKNOWN_KEY
        signed = ack.signing_bytes()
        key = (ack.kid, ack.sig, signed)
        if key in self._verified:
            self._verified.move_to_end(key)
            return None
        if not signature_valid(ack, public_key, signed):
            return AckForgery.BAD_SIGNATURE
        self._verified[key] = None
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return None
