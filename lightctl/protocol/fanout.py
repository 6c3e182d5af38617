"""Wire models of protocol v2 (broker-side fan-out): group membership and batched acks.

The service provisions each v2 lantern with its groups (``Membership``, retained on the
lantern's ``<root>/v2/lanterns/<id>/groups`` topic, which only the service may write). The
lantern subscribes to each group's ``cmd`` topic and reports what it holds in its availability
(``Availability.groups``): the service fans a command out to a group only while every lantern
that reported the group is in the command's target, so no lantern outside a target ever
receives a copy addressed to it. A gateway may send its lanterns' acks in one ``AckBatch``;
each ack in it is the lantern's own (signed by the lantern's key where it has one).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from lightctl.protocol.wire import Ack, Audience, WireModel

PROTOCOL_V2 = 2
# A lantern belongs to a few groups (its street, its map cell); 32 leaves room for districts.
MAX_GROUPS = 32
# Acks per batch: 500 acks of ~200 bytes are ~100 KB, under Mosquitto's and our size limits.
MAX_BATCH = 500


class Membership(WireModel):
    """The groups a lantern belongs to, as the service computed them from its inventory."""

    v: Literal[2] = 2
    lantern: str = Field(min_length=1, max_length=64)
    groups: list[Audience] = Field(default_factory=list, max_length=MAX_GROUPS)
    issued_at: AwareDatetime


class AckBatch(WireModel):
    """Acks of many lanterns of one gateway in one message (protocol v2)."""

    v: Literal[2] = 2
    gateway: str = Field(min_length=1, max_length=64)
    acks: list[Ack] = Field(min_length=1, max_length=MAX_BATCH)
