"""Cut the demo inventory (config/demo/) and the test fixtures (tests/fixtures/) from the real data.

The project never reads ../shared at run time or in tests; this script is the only bridge, run by
hand after the source data changes:

    PYTHONPATH=. python scripts/build_demo_data.py [--source ../shared/data]

(``PYTHONPATH=.`` is not needed once the project is installed with ``pip install -e .``.)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from lightctl.geo import (
    LanternRecord,
    SkippedRow,
    StreetIndex,
    StreetSegment,
    read_lanterns,
    read_streets,
)

ROOT = Path(__file__).resolve().parents[1]
LANTERNS_CSV = "zurich_streetlights_ewz_brennstelle_p.csv"
LANTERNS_GEOJSON = "zurich_streetlights_wgs84.geojson"
STREETS_GEOJSON = "zurich_street_segments_overture.geojson"

# Old town on both banks of the Limmat, Bahnhofstrasse from the main station to Bürkliplatz,
# Paradeplatz, Limmatquai: 3,533 lanterns lie within 30 m of a named street here (aim: 2,500-4,000).
DEMO_BOX = (8.532, 47.366, 8.548, 47.380)  # lon_min, lat_min, lon_max, lat_max
# 30 m: the median lamp-to-segment distance is 6.2 m; past 30 m a lamp lights a yard, not a street.
DEMO_MAX_DISTANCE_M = 30.0
# Streets reach ~65 m past the lantern box (0.0009° lon, 0.0006° lat), more than the 30 m limit, so
# a lantern at the edge finds the same nearest street in the demo file as in the whole city file.
DEMO_STREET_MARGIN = (0.0009, 0.0006)
# Bahnhofstrasse from Paradeplatz to Augustinergasse: 148 lanterns, 42 of them on Bahnhofstrasse.
FIXTURE_BOX = (8.5375, 47.3695, 8.5405, 47.3725)
# Streets around the fixture reach ~110 m beyond it, more than any fixture lamp's 31 m to its
# street, so nearest-street answers from the small file equal those from the whole file.
FIXTURE_STREET_MARGIN = (0.0015, 0.001)
ROUND = 7  # decimals of a degree: 1.1 cm, the precision of the source GeoJSON

CREDITS = """# Demo inventory

Real data from central Zürich, cut by `scripts/build_demo_data.py` (do not edit by hand).

- `lanterns.geojson`: {lanterns} street lanterns within {distance:.0f} m of a named street in the
  box lon {box[0]:.3f}–{box[2]:.3f}, lat {box[1]:.3f}–{box[3]:.3f} (old town, Bahnhofstrasse,
  Paradeplatz, Limmatquai).
  Feature `id` = the city's lamp number (`nisnr`); `orientation_deg` = facing in degrees (0 on some
  lamps probably means unknown). WGS 84 lon/lat, 7 decimals.
- `streets.geojson`: {streets} street and footpath segments (named and unnamed) crossing that box
  widened by about 65 m, with Overture `id`, `name` and `class`.

## Credits
- Lanterns: Data: Stadt Zürich, Öffentliche Beleuchtung (CC0)
  (open-data set `geo_oeffentliche_beleuchtung_der_stadt_zuerich`, layer `ewz_brennstelle_p`,
  CC0 1.0).
- Streets: © OpenStreetMap contributors, Overture Maps Foundation
  (Overture `transportation/segment`, release 2024-10). `streets.geojson` is a derivative database
  under the Open Database License 1.0 (ODbL): keep this credit and the licence when you share it.
"""


def in_box(lon: float, lat: float, box: Sequence[float]) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def lanterns_only(items: Iterable[LanternRecord | SkippedRow], source: str) -> list[LanternRecord]:
    records: list[LanternRecord] = []
    for item in items:
        if isinstance(item, SkippedRow):
            print(f"{source}: row {item.row} skipped: {item.reason}", file=sys.stderr)
        else:
            records.append(item)
    return records


def segments_only(items: Iterable[StreetSegment | SkippedRow]) -> list[StreetSegment]:
    return [item for item in items if isinstance(item, StreetSegment)]


def widened(box: Sequence[float], margin: tuple[float, float]) -> tuple[float, ...]:
    dx, dy = margin
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy)


def crossing(segments: list[StreetSegment], box: Sequence[float]) -> list[StreetSegment]:
    """Segments that cross a lon/lat box (a topological test, no distances on degrees)."""
    area = shapely.box(*box)
    return [s for s in segments if shapely.LineString(s.coords).intersects(area)]


def feature_lines(features: Iterable[dict[str, Any]], members: dict[str, Any]) -> str:
    """A FeatureCollection with one feature per line: compact, and diffs stay readable."""
    head = json.dumps({"type": "FeatureCollection", **members}, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    return f'{head}, "features": [\n{body}\n]}}\n'


def lantern_feature(record: LanternRecord) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": record.id,
        "geometry": {
            "type": "Point",
            "coordinates": [round(record.lon, ROUND), round(record.lat, ROUND)],
        },
        "properties": {"orientation_deg": record.orientation_deg},
    }


def street_feature(segment: StreetSegment) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": segment.id,
        "geometry": {
            "type": "LineString",
            "coordinates": [[round(lon, ROUND), round(lat, ROUND)] for lon, lat in segment.coords],
        },
        "properties": {"id": segment.id, "name": segment.name, "class": segment.cls},
    }


def build_demo(lanterns: list[LanternRecord], segments: list[StreetSegment], out: Path) -> None:
    index = StreetIndex(segments)
    boxed = [r for r in lanterns if in_box(r.lon, r.lat, DEMO_BOX)]
    nearest = index.nearest_named(
        [r.lon for r in boxed], [r.lat for r in boxed], DEMO_MAX_DISTANCE_M
    )
    chosen = [r for r, hit in zip(boxed, nearest, strict=True) if hit is not None]
    streets = crossing(segments, widened(DEMO_BOX, DEMO_STREET_MARGIN))
    out.mkdir(parents=True, exist_ok=True)
    credit = {"attribution": "Data: Stadt Zürich, Öffentliche Beleuchtung (CC0)"}
    (out / "lanterns.geojson").write_text(
        feature_lines(map(lantern_feature, chosen), {"name": "lightctl demo lanterns", **credit}),
        encoding="utf-8",
    )
    street_credit = {"attribution": "© OpenStreetMap contributors, Overture Maps Foundation"}
    (out / "streets.geojson").write_text(
        feature_lines(
            map(street_feature, streets), {"name": "lightctl demo streets", **street_credit}
        ),
        encoding="utf-8",
    )
    (out / "README.md").write_text(
        CREDITS.format(
            lanterns=f"{len(chosen):,}",
            streets=f"{len(streets):,}",
            distance=DEMO_MAX_DISTANCE_M,
            box=DEMO_BOX,
        ),
        encoding="utf-8",
    )
    on_bahnhofstrasse = sum(1 for hit in nearest if hit is not None and hit[0] == "Bahnhofstrasse")
    print(f"demo: {len(chosen)} lanterns, {on_bahnhofstrasse} on Bahnhofstrasse")
    print(f"demo: {len(streets)} street segments")


def build_fixtures(source: Path, lanterns: list[LanternRecord], out: Path) -> None:
    """Small real slices: CSV rows verbatim (BOM, header) and the same lamps as GeoJSON."""
    ids = {r.id for r in lanterns if in_box(r.lon, r.lat, FIXTURE_BOX)}
    raw = (source / LANTERNS_CSV).read_bytes()
    lines = raw.splitlines(keepends=True)
    header = next(csv.reader([lines[0].decode("utf-8-sig")]))
    nisnr = header.index("nisnr")
    kept = [
        line
        for line in lines[1:]
        if next(csv.reader(io.StringIO(line.decode("utf-8"))))[nisnr] in ids
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "zurich_lanterns_small.csv").write_bytes(lines[0] + b"".join(kept))

    doc = json.loads((source / LANTERNS_GEOJSON).read_text(encoding="utf-8"))
    features = [f for f in doc["features"] if f["id"] in ids]
    members = {"name": "zurich_lanterns_small", "source": doc["source"]}
    (out / "zurich_lanterns_small.geojson").write_text(
        feature_lines(features, members), encoding="utf-8"
    )

    streets = json.loads((source / STREETS_GEOJSON).read_text(encoding="utf-8"))
    area = shapely.box(*widened(FIXTURE_BOX, FIXTURE_STREET_MARGIN))
    near = [f for f in streets["features"] if shape(f["geometry"]).intersects(area)]
    members = {"name": "zurich_streets_small", "source": streets["source"]}
    (out / "zurich_streets_small.geojson").write_text(
        feature_lines(near, members), encoding="utf-8"
    )
    print(f"fixtures: {len(kept)} CSV rows, {len(features)} GeoJSON lanterns, {len(near)} streets")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    source: Path = args.source
    lanterns = lanterns_only(read_lanterns(source / LANTERNS_GEOJSON), LANTERNS_GEOJSON)
    segments = segments_only(read_streets(source / STREETS_GEOJSON))
    build_demo(lanterns, segments, ROOT / "config" / "demo")
    build_fixtures(source, lanterns, ROOT / "tests" / "fixtures")


if __name__ == "__main__":
    main()
