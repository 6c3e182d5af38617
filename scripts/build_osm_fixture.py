"""Cut the Bellevue (Zürich) test fixtures: a real OSM extract and id-less lantern points.

    python scripts/build_osm_fixture.py SOURCE.osm zurich_streetlights_wgs84.geojson OUT_DIR

SOURCE.osm: an OpenStreetMap XML extract of Zürich's main roads (the one used is named in
tests/fixtures/README.md). Every way with a node in ``WAY_BOX`` is kept whole, with all its nodes
and tags, and written as .osm XML and .osm.pbf (pyosmium), and as the two Overpass JSON shapes
(``out geom;`` and ``out body; >; out skel;``). The lanterns are every lamp of the Zürich inventory
in ``LAMP_BOX``, as ``longitude,latitude`` only (no id), plus one repeated coordinate and one real
lamp from the far west of the city as the far-away point.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import osmium

WAY_BOX = (8.540, 47.362, 8.551, 47.370)  # lon/lat: Bellevue, Utoquai, Rämistrasse, Limmatquai
LAMP_BOX = (8.543, 47.364, 8.547, 47.368)
STEM = "zurich_bellevue"


def _inside(lon: float, lat: float, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


class _Nodes(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.where: dict[int, tuple[float, float]] = {}

    def node(self, n: Any) -> None:
        self.where[n.id] = (n.location.lon, n.location.lat)


class _Ways(osmium.SimpleHandler):
    def __init__(self, where: dict[int, tuple[float, float]]) -> None:
        super().__init__()
        self.where = where
        self.ways: set[int] = set()
        self.nodes: set[int] = set()

    def way(self, w: Any) -> None:
        refs = [n.ref for n in w.nodes]
        if any(r in self.where and _inside(*self.where[r], WAY_BOX) for r in refs):
            self.ways.add(w.id)
            self.nodes.update(refs)


class _Copy(osmium.SimpleHandler):
    def __init__(self, ways: set[int], nodes: set[int], writer: Any) -> None:
        super().__init__()
        self.keep_ways, self.keep_nodes, self.writer = ways, nodes, writer
        self.elements: list[dict[str, Any]] = []

    def node(self, n: Any) -> None:
        if n.id in self.keep_nodes:
            self.writer.add_node(n)
            node: dict[str, Any] = {
                "type": "node",
                "id": n.id,
                "lat": round(n.location.lat, 7),
                "lon": round(n.location.lon, 7),
            }
            if len(n.tags):
                node["tags"] = {t.k: t.v for t in n.tags}
            self.elements.append(node)

    def way(self, w: Any) -> None:
        if w.id in self.keep_ways:
            self.writer.add_way(w)
            self.elements.append(
                {
                    "type": "way",
                    "id": w.id,
                    "nodes": [n.ref for n in w.nodes],
                    "tags": {t.k: t.v for t in w.tags},
                }
            )


def _overpass(elements: list[dict[str, Any]], osm_base: str) -> dict[str, Any]:
    return {
        "version": 0.6,
        "generator": "Overpass API (shape reproduced by scripts/build_osm_fixture.py)",
        "osm3s": {
            "timestamp_osm_base": osm_base,
            "copyright": "The data included in this document is from www.openstreetmap.org. "
            "The data is made available under ODbL.",
        },
        "elements": elements,
    }


def build_osm(source: Path, out: Path) -> None:
    nodes = _Nodes()
    nodes.apply_file(str(source))
    ways = _Ways(nodes.where)
    ways.apply_file(str(source))
    copies: list[_Copy] = []
    for suffix in (".osm", ".osm.pbf"):
        target = out / f"{STEM}{suffix}"
        target.unlink(missing_ok=True)
        writer = osmium.SimpleWriter(str(target))
        copy = _Copy(ways.ways, ways.nodes, writer)
        copy.apply_file(str(source))
        writer.close()
        copies.append(copy)
    elements = copies[0].elements
    osm_base = "2025-05-18T09:01:59Z"  # the source's <meta osm_base>
    node_el = [e for e in elements if e["type"] == "node"]
    way_el = [e for e in elements if e["type"] == "way"]
    where = {e["id"]: e for e in node_el}
    geom = [
        {
            "type": "way",
            "id": w["id"],
            "geometry": [{"lat": where[r]["lat"], "lon": where[r]["lon"]} for r in w["nodes"]],
            "tags": w["tags"],
        }
        for w in way_el
    ]
    # `out body; >; out skel;`: the ways with tags and node ids, then their nodes without tags.
    skel = way_el + [{k: v for k, v in n.items() if k != "tags"} for n in node_el]
    for name, doc in (("overpass_geom", geom), ("overpass_skel", skel)):
        text = json.dumps(_overpass(doc, osm_base), ensure_ascii=False, indent=1)
        (out / f"{STEM}_{name}.json").write_text(text + "\n", encoding="utf-8")


def build_lanterns(inventory: Path, out: Path) -> None:
    doc = json.loads(inventory.read_text(encoding="utf-8"))
    coords = [tuple(f["geometry"]["coordinates"][:2]) for f in doc["features"]]
    rows = [c for c in coords if _inside(c[0], c[1], LAMP_BOX)]
    rows.insert(len(rows) // 2, rows[10])  # one more luminaire on the pole of row 11
    far = min(coords, key=lambda c: c[0])  # the westernmost lamp of the city, ~6 km away
    rows.append(far)
    lines = ["longitude,latitude"] + [f"{lon},{lat}" for lon, lat in rows]
    (out / f"{STEM}_lanterns_lonlat.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    source, inventory, out = (Path(a) for a in sys.argv[1:4])
    build_osm(source, out)
    build_lanterns(inventory, out)


if __name__ == "__main__":
    main()
