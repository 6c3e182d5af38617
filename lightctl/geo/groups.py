"""Fan-out groups of protocol v2: which street and which map cell each lantern belongs to.

A lantern is provisioned with two groups: ``groups/street/<slug>`` for the street it stands on
(when it has one) and ``groups/cell/<col>_<row>`` for the square of the metric grid (``CELL_M``
on a side, in the inventory's projected CRS) that holds it. A street warning then costs one
publish per street, a district or city-wide one one per cell, instead of one per lantern.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

from lightctl.geo.targeting import LanternIndex
from lightctl.protocol import group_audience

# 250 m cells: the demo city (~13 km across, 3,533 lanterns) has ~900 occupied cells of ~4
# lanterns; a 100,000-lantern city of the same size ~2,700 cells of ~37. Smaller cells fit
# ragged targets (a 300 m circle) better, larger ones cost fewer publishes city-wide.
CELL_M = 250.0
# Street slugs are topic levels (at most 64 characters of [A-Za-z0-9._:-]); the hash suffix
# keeps two names that slug alike ("Au" and "Aü") apart.
_SLUG_MAX = 48
_NOT_LEVEL = re.compile(r"[^a-z0-9.-]+")


def street_slug(street_key: str) -> str:
    """The topic level of a street: ASCII, lower case, ``-`` for gaps, plus 6 hex of its key."""
    ascii_name = unicodedata.normalize("NFKD", street_key).encode("ascii", "ignore").decode()
    slug = _NOT_LEVEL.sub("-", ascii_name.lower()).strip("-.")[:_SLUG_MAX] or "street"
    digest = hashlib.sha256(street_key.encode()).hexdigest()[:6]
    return f"{slug}-{digest}"


def cell_key(x_m: float, y_m: float, cell_m: float = CELL_M) -> str:
    """The grid square holding a point given in metres (negative coordinates allowed)."""
    return f"{math.floor(x_m / cell_m)}_{math.floor(y_m / cell_m)}"


def memberships(index: LanternIndex, cell_m: float = CELL_M) -> dict[str, tuple[str, ...]]:
    """Every lantern's groups (audiences), street first."""
    ids, streets, xs, ys = index.layout()
    slugs: dict[str, str] = {}
    out: dict[str, tuple[str, ...]] = {}
    for lantern_id, street, x, y in zip(ids, streets, xs.tolist(), ys.tolist(), strict=True):
        cell = group_audience("cell", cell_key(x, y, cell_m))
        if street is None:
            out[lantern_id] = (cell,)
            continue
        slug = slugs.get(street)
        if slug is None:
            slug = slugs[street] = street_slug(street)
        out[lantern_id] = (group_audience("street", slug), cell)
    return out
