"""Command envelopes parsed once per copy, however many lanterns of a gateway it reaches.

A group copy (protocol v2) reaches every lantern of its group on the gateway with the same bytes:
a city-wide warning hands ~10,600 lantern-commands to a 3,533-lantern fleet in ~700 copies.
Parsing (and hashing for the signature check) each lantern's copy again cost most of the fleet's
time between a command's arrival and its acks. Envelopes are frozen, so lanterns may share one.
"""

from __future__ import annotations

from collections import OrderedDict

from lightctl.protocol import CommandEnvelope

# Distinct copies kept: a warning's group copies (a few hundred to a few thousand) and the
# per-lantern copies around them; ~3 KB each, so 4,096 stay under 15 MB.
ENVELOPES_KEPT = 4096


class EnvelopeCache:
    """``parse(raw)``: ``CommandEnvelope.from_bytes``, remembered by the bytes (LRU)."""

    def __init__(self, size: int = ENVELOPES_KEPT) -> None:
        self.size = size
        self.hits = 0
        self._parsed: OrderedDict[bytes, CommandEnvelope] = OrderedDict()

    def parse(self, raw: bytes) -> CommandEnvelope:
        """The envelope in ``raw``; raises pydantic's ValidationError as ``from_bytes`` does
        (a refusal is not remembered: it costs the sender, not the fleet)."""
        known = self._parsed.get(raw)
        if known is not None:
            self._parsed.move_to_end(raw)
            self.hits += 1
            return known
        cmd = CommandEnvelope.from_bytes(raw)
        self._parsed[raw] = cmd
        if len(self._parsed) > self.size:
            self._parsed.popitem(last=False)
        return cmd
