"""Which lanterns a fleet simulates: specs read from a GeoJSON FeatureCollection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from firmware_sim.lantern import ALL_CAPABILITIES, Capability
from lightctl.protocol import is_valid_lantern_id


class InventoryError(ValueError):
    """The inventory file cannot be used; the message says which file and which feature."""


@dataclass(frozen=True, slots=True)
class LanternSpec:
    """One simulated lantern: its id (an MQTT topic level) and the hardware it has."""

    id: str
    capabilities: frozenset[Capability] = ALL_CAPABILITIES
    # Fan-out groups (kind, key) it listens to, e.g. ("street", "badweg"): protocol v2's
    # broker-side fan-out (issue 14) fills these; empty in protocol v1.
    groups: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        if not is_valid_lantern_id(self.id):
            raise ValueError(f"lantern id {self.id!r} cannot be used as an MQTT topic level")
        for kind, key in self.groups:
            if not (is_valid_lantern_id(kind) and is_valid_lantern_id(key)):
                raise ValueError(f"lantern {self.id}: group {kind!r}/{key!r} is no topic level")
        unknown = set(self.capabilities) - ALL_CAPABILITIES
        if unknown:
            raise ValueError(f"lantern {self.id}: unknown capabilities {sorted(unknown)}")


def load_inventory(path: Path | str) -> list[LanternSpec]:
    """Lantern specs from a GeoJSON FeatureCollection, in file order.

    The id is the feature ``id``, else ``properties.id``, else ``properties.nisnr`` (Zürich's lamp
    number); ``properties.capabilities`` lists the hardware, all four when absent.
    """
    path = Path(path)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InventoryError(f"inventory file not found: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InventoryError(f"cannot read inventory {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InventoryError(f"{path}: expected a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise InventoryError(f"{path}: 'features' must be a list")
    specs: list[LanternSpec] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        where = f"{path}: features[{index}]"
        spec = _spec(feature, where)
        if spec.id in seen:
            raise InventoryError(f"{where}: duplicate lantern id {spec.id!r}")
        seen.add(spec.id)
        specs.append(spec)
    return specs


def _spec(feature: Any, where: str) -> LanternSpec:
    if not isinstance(feature, dict):
        raise InventoryError(f"{where}: not a GeoJSON Feature")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise InventoryError(f"{where}: 'properties' must be an object")
    raw_id = feature.get("id") or props.get("id") or props.get("nisnr")
    if raw_id is None or raw_id == "":
        raise InventoryError(f"{where}: no lantern id (feature id, properties.id or .nisnr)")
    caps_raw = props.get("capabilities")
    if caps_raw is None:
        capabilities = ALL_CAPABILITIES
    elif isinstance(caps_raw, list) and all(isinstance(c, str) for c in caps_raw):
        capabilities = frozenset(cast(list[Capability], caps_raw))
    else:
        raise InventoryError(f"{where}: properties.capabilities must be a list of names")
    try:
        return LanternSpec(str(raw_id), capabilities)
    except ValueError as exc:
        raise InventoryError(f"{where}: {exc}") from None
