"""How fast a Target resolves on a city-sized inventory (issue 3: each kind < 20 ms median).

Builds 1,000,000 synthetic lanterns over the extent of Zürich once, then times ``resolve`` (the
whole path an alert takes: GeoJSON checks, projection, STRtree query, geodesic filter, ids) for a
1,000-vertex polygon, a 300 m circle, a 2 km route with a 25 m corridor and a 5-street name target.

    python benchmarks/targeting.py [--lanterns 1000000] [--runs 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from pyproj import Geod

from lightctl.domain.targets import Circle, Route, TargetSpec
from lightctl.geo.names import normalize_street_name
from lightctl.geo.targeting import LanternIndex

# The city of Zürich: 8.448-8.625 E, 47.320-47.435 N (about 13 x 13 km).
WEST, SOUTH, EAST, NORTH = 8.448, 47.320, 8.625, 47.435
GEOD = Geod(ellps="WGS84")
# A synthetic street is a 60 m wide band, 1 km long: ~200 lanterns at this density, like a
# long real street (Bahnhofstrasse has ~120).
BAND_DEG_LAT = 60 / 111_200
BAND_DEG_LON = 60 / 75_300
PIECE_DEG = 0.012


def synthetic_inventory(n: int, rng: np.random.Generator) -> tuple[LanternIndex, list[str], float]:
    lons = rng.uniform(WEST, EAST, n)
    lats = rng.uniform(SOUTH, NORTH, n)
    east_west = rng.random(n) < 0.5  # half the lanterns stand on streets running east-west
    band = np.where(east_west, (lats - SOUTH) // BAND_DEG_LAT, (lons - WEST) // BAND_DEG_LON)
    piece = np.where(east_west, (lons - WEST) // PIECE_DEG, (lats - SOUTH) // PIECE_DEG)
    names = [
        f"{'Quer' if ew else 'Laengs'}strasse {int(b)}-{int(p)}"
        for ew, b, p in zip(east_west.tolist(), band.tolist(), piece.tolist(), strict=True)
    ]
    keys = [normalize_street_name(s) for s in dict.fromkeys(names)]
    key_of = dict(zip(dict.fromkeys(names), keys, strict=True))
    ids = [f"L{i:07d}" for i in range(n)]
    caps = rng.random((n, 4)) < 0.9
    started = time.perf_counter()
    index = LanternIndex(
        ids,
        lons,
        lats,
        [key_of[s] for s in names],
        caps,
        [True] * n,
        {k: s for s, k in key_of.items()},
    )
    return index, sorted(key_of), time.perf_counter() - started


def random_centre(rng: np.random.Generator) -> tuple[float, float]:
    # 2 km inside the edges, so every shape lies in the inventory.
    return float(rng.uniform(WEST + 0.03, EAST - 0.03)), float(
        rng.uniform(SOUTH + 0.02, NORTH - 0.02)
    )


def polygon_1000(rng: np.random.Generator) -> TargetSpec:
    lon, lat = random_centre(rng)
    azimuths = np.linspace(0.0, 360.0, 1000, endpoint=False)
    # A district-like outline: 450 m +- a few random bulges, plus 3 m of jitter per vertex as a
    # traced outline has. Star-shaped around the centre, so always valid.
    angle = np.radians(azimuths)
    radii = 450.0 + rng.uniform(-3.0, 3.0, 1000)
    for k in (2, 3, 5, 7):
        radii += rng.uniform(-120.0, 120.0) / k * np.sin(k * angle + rng.uniform(0, 2 * np.pi))
    lons, lats, _ = GEOD.fwd(np.full(1000, lon), np.full(1000, lat), azimuths, radii)
    ring = [[x, y] for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    return TargetSpec(area={"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


def circle_300(rng: np.random.Generator) -> TargetSpec:
    return TargetSpec(circle=Circle(*random_centre(rng), 300.0))


def route_2km(rng: np.random.Generator) -> TargetSpec:
    lon, lat = random_centre(rng)
    heading = float(rng.uniform(0, 360))
    points = [[lon, lat]]
    for _ in range(10):  # ten 200 m legs, each turning up to 30°
        heading += float(rng.uniform(-30, 30))
        lon, lat, _ = GEOD.fwd(lon, lat, heading, 200.0)
        points.append([lon, lat])
    return TargetSpec(route=Route({"type": "LineString", "coordinates": points}, 25.0))


def five_streets(names: list[str]) -> Callable[[np.random.Generator], TargetSpec]:
    def make(rng: np.random.Generator) -> TargetSpec:
        chosen = rng.choice(len(names), 5, replace=False)
        # typed the way people type: upper case and "str." for some
        typed = [names[i].upper() if i % 2 else names[i].replace("strasse", "str.") for i in chosen]
        return TargetSpec(streets=tuple(typed))

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    index, keys, build_s = synthetic_inventory(args.lanterns, rng)
    names = index.street_names()
    print(
        f"index: {len(index):,} lanterns on {len(keys):,} streets, built once in {build_s:.1f} s "
        f"({index.projection})"
    )
    cases: list[tuple[str, Callable[[np.random.Generator], TargetSpec]]] = [
        ("1,000-vertex polygon", polygon_1000),
        ("300 m circle", circle_300),
        ("2 km route, 25 m corridor", route_2km),
        ("5 streets by name", five_streets(names)),
    ]
    print(f"{'target':<28}{'median ms':>10}{'p99 ms':>9}{'lanterns (median)':>19}")
    for label, make in cases:
        specs = [make(rng) for _ in range(args.runs)]
        index.resolve(specs[0])  # warm caches (transformers, GEOS prepared geometry code paths)
        times, sizes = [], []
        for spec in specs:
            started = time.perf_counter()
            resolved = index.resolve(spec)
            times.append((time.perf_counter() - started) * 1000.0)
            sizes.append(len(resolved.lantern_ids))
        p99 = float(np.percentile(times, 99))
        median = statistics.median(times)
        print(f"{label:<28}{median:>10.2f}{p99:>9.2f}{int(statistics.median(sizes)):>19,}")


if __name__ == "__main__":
    main()
