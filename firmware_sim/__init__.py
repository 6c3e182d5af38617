"""A simulator that stands in for lantern firmware: MQTT commands in, acks, audio and state out."""

from firmware_sim.effects import (
    AcceptUnsigned,
    Dropped,
    Effect,
    PublishState,
    Reason,
    SendAck,
    StartAudio,
    StopAudio,
    Verifier,
)
from firmware_sim.fleet import Fleet, LanternRecord
from firmware_sim.inventory import InventoryError, LanternSpec, load_inventory
from firmware_sim.lantern import ALL_CAPABILITIES, Capability, Lantern
from firmware_sim.transport import BrokerAddress, Gateway

__all__ = [
    "ALL_CAPABILITIES",
    "AcceptUnsigned",
    "BrokerAddress",
    "Capability",
    "Dropped",
    "Effect",
    "Fleet",
    "Gateway",
    "InventoryError",
    "Lantern",
    "LanternRecord",
    "LanternSpec",
    "PublishState",
    "Reason",
    "SendAck",
    "StartAudio",
    "StopAudio",
    "Verifier",
    "load_inventory",
]
