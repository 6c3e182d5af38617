"""How long `lightctl lanterns import` takes on a city-sized id-less file (200,000 rows < 30 s).

Writes 200,000 synthetic lanterns over the extent of Zürich as a `longitude,latitude` CSV (no id,
like many cities' open data), 3 % of them on a pole shared with another row and one stray point
40 km away, plus a grid of named streets every 150 m. Then runs the real command line twice on a
fresh SQLite database, with its progress bar, and prints the wall time of each run: the first
inserts everything, the second must report "0 new, 0 updated".

    python benchmarks/inventory_import.py [--lanterns 200000] [--keep DIR] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# The city of Zürich: 8.448-8.625 E, 47.320-47.435 N (about 13 x 13 km).
WEST, SOUTH, EAST, NORTH = 8.448, 47.320, 8.625, 47.435
# Named streets every 150 m each way: ~90 + ~85 long lines, one segment per 1 km piece.
STREET_STEP_DEG_LAT = 150 / 111_200
STREET_STEP_DEG_LON = 150 / 75_300
PIECE_DEG = 0.013
SHARED_POLE_SHARE = 0.03


def write_lanterns(path: Path, n: int, rng: np.random.Generator) -> None:
    lons = rng.uniform(WEST, EAST, n)
    lats = rng.uniform(SOUTH, NORTH, n)
    shared = rng.random(n) < SHARED_POLE_SHARE
    donors = rng.integers(0, n, n)
    lons = np.where(shared, lons[donors], lons)
    lats = np.where(shared, lats[donors], lats)
    lons[-1], lats[-1] = EAST + 0.5, NORTH + 0.1  # the stray point, ~40 km out
    with path.open("w", encoding="utf-8") as out:
        out.write("longitude,latitude\n")
        out.writelines(
            f"{lon:.7f},{lat:.7f}\n" for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True)
        )


def write_streets(path: Path) -> int:
    features: list[dict[str, Any]] = []
    lat = SOUTH
    while lat <= NORTH:
        for start in np.arange(WEST, EAST, PIECE_DEG):
            features.append(_street(f"Querstrasse {len(features)}", [(start, lat)], PIECE_DEG, 0))
        lat += STREET_STEP_DEG_LAT
    lon = WEST
    while lon <= EAST:
        for start in np.arange(SOUTH, NORTH, PIECE_DEG):
            features.append(_street(f"Laengsstrasse {len(features)}", [(lon, start)], 0, PIECE_DEG))
        lon += STREET_STEP_DEG_LON
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return len(features)


def _street(
    name: str, start: list[tuple[float, float]], dlon: float, dlat: float
) -> dict[str, Any]:
    (lon, lat) = start[0]
    return {
        "type": "Feature",
        "id": name.replace(" ", "-"),
        "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + dlon, lat + dlat]]},
        "properties": {"name": name, "class": "residential"},
    }


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, " ".join(done.stdout.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanterns", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument(
        "--database-url", help="an empty database to import into (default: SQLite in a temp dir)"
    )
    opts = parser.parse_args()
    work = opts.keep or Path(tempfile.mkdtemp(prefix="lightctl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    lanterns, streets = work / "lanterns.csv", work / "streets.geojson"
    write_lanterns(lanterns, opts.lanterns, np.random.default_rng(12))
    segments = write_streets(streets)
    print(f"{opts.lanterns} lanterns ({lanterns.stat().st_size / 1e6:.1f} MB), {segments} streets")
    env = {**os.environ, "COLUMNS": "160"}
    cli = [sys.executable, "-c", "from lightctl.cli import main; main()"]
    data = ["--data-dir", str(work / "data")]
    if opts.database_url:
        data += ["--database-url", opts.database_url]
    took, _out = run([*cli, "streets", "import", str(streets), *data], env)
    print(f"streets import: {took:.1f} s")
    for attempt in ("first import", "re-import"):
        took, out = run([*cli, "lanterns", "import", str(lanterns), *data], env)
        counts = re.search(r"lanterns: (\d+) taken \((\d+) new, (\d+) updated", out)
        summary = counts.group(0) if counts else out[:200]
        print(f"{attempt}: {took:.1f} s wall ({summary})")
        if attempt == "re-import" and counts and (counts.group(2), counts.group(3)) != ("0", "0"):
            sys.exit("the re-import changed lanterns")
    outliers = re.search(r"outliers: \d+ lanterns[^)]*\)", out)
    print(outliers.group(0) if outliers else "no outliers reported")


if __name__ == "__main__":
    main()
