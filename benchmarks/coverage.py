"""Acoustic coverage (issue 19): matrix build, and one preview's coverage, for the demo
inventory and for a synthetic city (targets: preview <= 100 ms for a street at 100,000
lanterns, <= 1 s city-wide; matrix build <= 60 s at 100,000 lanterns).

The synthetic city is a grid of streets 100 m apart with a lantern every 30 m along each
(alternating sides, 6 m off the centre line) and one building filling each block but for a
12 m street corridor. Figures are the model's own path (``assemble`` and the report the API
returns), without the HTTP and database round trips.

    python benchmarks/coverage.py [--lanterns 100000] [--spacing 5] [--radius 200] [--skip-demo]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import shapely
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scipy.spatial import cKDTree

from lightctl.acoustics.propagation import SourceSpec
from lightctl.geo.crs import MetricProjection
from lightctl.geo.names import normalize_street_name
from lightctl.services.coverage import CoverageModel, CoverageService, ModelKey, assemble

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo"
BLOCK_M = 100.0  # street grid spacing
LANTERN_EVERY_M = 30.0
CENTRE = (8.54, 47.37)  # lon/lat of the synthetic city's centre (Zürich)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )


def build(label: str, args: argparse.Namespace, *inputs: object) -> tuple[CoverageModel, float]:
    key = ModelKey(0, (0, 0, 0), "", "", SourceSpec(), args.spacing, args.radius, 97.0)
    with progress_bar() as bar:
        task = bar.add_task(f"{label}: matrix", total=None)
        started, cpu = time.perf_counter(), time.process_time()
        model = assemble(
            key,
            *inputs,  # type: ignore[arg-type,call-arg]  # the benchmark passes the lanterns, streets and buildings it built
            SourceSpec(),
            args.spacing,
            args.radius,
            97.0,
            lambda done, total: bar.update(task, completed=done, total=total),
        )
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
    m = model.matrix
    print(
        f"{label}: {len(model.ids):,} lanterns, {len(model.segment_ids):,} segments, "
        f"{len(model.receivers):,} receivers, {len(model.buildings):,} buildings -> "
        f"{m.gain.nnz:,} entries ({m.nbytes / 1e6:.0f} MB, {m.blocked_pairs:,} blocked) "
        f"in {took:.1f} s ({cpu:.1f} s CPU)"
    )
    bare, bare_cpu = bare_pairs(model, args.radius)
    print(
        f"{label}: bare baseline, the lantern/receiver pairs within {args.radius:g} m alone "
        f"(cKDTree): {bare:.1f} s ({bare_cpu:.1f} s CPU); the build is {took / bare:.1f}x "
        f"that in wall time, {cpu / bare_cpu:.1f}x in CPU"
    )
    return model, took


def bare_pairs(model: CoverageModel, radius_m: float) -> tuple[float, float]:
    """The least any matrix build does: enumerate the pairs within the radius with their
    distances, in the same chunks, and nothing else (wall, CPU seconds)."""
    started, cpu = time.perf_counter(), time.process_time()
    receivers = cKDTree(np.column_stack([model.receivers.x, model.receivers.y]))
    for lo in range(0, len(model.x), 4096):
        near = cKDTree(np.column_stack([model.x[lo : lo + 4096], model.y[lo : lo + 4096]]))
        near.sparse_distance_matrix(receivers, radius_m, output_type="ndarray")
    return time.perf_counter() - started, time.process_time() - cpu


def timed_street(
    service: CoverageService, model: CoverageModel, positions: np.ndarray, runs: int
) -> tuple[float, object]:
    """What ``for_lanterns`` does after reading the model key: find the streets, rate them."""
    times = []
    report = None
    for _ in range(runs):
        started = time.perf_counter()
        segments = service._segments_of(model, positions)
        report = service._report(model, positions, segments, False)
        times.append(time.perf_counter() - started)
    return float(np.median(times)), report


def timed(
    service: CoverageService,
    model: CoverageModel,
    positions: np.ndarray,
    segments: np.ndarray,
    runs: int,
    suggestions: int = 0,
) -> tuple[float, object]:
    times = []
    report = None
    for _ in range(runs):
        started = time.perf_counter()
        report = service._report(model, positions, segments, False, suggestions=suggestions)
        times.append(time.perf_counter() - started)
    return float(np.median(times)), report


def preview_figures(label: str, model: CoverageModel, street_key: str, runs: int) -> None:
    service = CoverageService(None, Path("."), SourceSpec(), 5.0, 200.0, 97.0, lambda _i: None)  # type: ignore[arg-type]
    segments = np.array(model.segments_by_key[street_key], dtype=np.int64)
    pts = model.receivers.of_segments(segments)
    # The street's lanterns: those within 10 m of its receivers.
    near = model.matrix.gain[:, pts].max(axis=1).toarray().ravel()
    positions = np.flatnonzero(near >= 10 ** (-25 / 10))  # within ~12 m of the street
    took, report = timed_street(service, model, positions, runs)
    print(
        f"{label}: street preview ({len(positions)} lanterns, {report.length_m:.0f} m): "  # type: ignore[attr-defined]
        f"{took * 1000:.1f} ms median; shares {report.shares}"  # type: ignore[attr-defined]
    )
    every = np.arange(len(model.ids), dtype=np.int64)
    all_segments = np.arange(len(model.segment_ids), dtype=np.int64)
    took, report = timed(service, model, every, all_segments, max(1, runs // 10))
    print(
        f"{label}: city-wide preview ({len(every):,} lanterns): {took * 1000:.0f} ms median; "
        f"shares {report.shares}, echo {'checked' if report.echo_risk is not None else 'skipped'}"  # type: ignore[attr-defined]
    )
    took, report = timed(service, model, every, all_segments, 1, suggestions=5)
    print(f"{label}: city-wide with 5 next-speaker suggestions: {took * 1000:.0f} ms")


def demo(args: argparse.Namespace) -> None:
    lanterns = json.loads((DEMO / "lanterns.geojson").read_text(encoding="utf-8"))["features"]
    streets = json.loads((DEMO / "streets.geojson").read_text(encoding="utf-8"))["features"]
    ids = [str(f["id"]) for f in lanterns]
    lons = np.array([f["geometry"]["coordinates"][0] for f in lanterns])
    lats = np.array([f["geometry"]["coordinates"][1] for f in lanterns])
    segments = [
        (
            str(f["id"]),
            f["properties"].get("name"),
            f["properties"].get("class") or "",
            f["geometry"]["coordinates"],
        )
        for f in streets
    ]
    model, _ = build(
        "demo", args, ids, lons, lats, np.ones(len(ids), bool), [None] * len(ids), segments, []
    )
    preview_figures("demo", model, normalize_street_name("Bahnhofstrasse"), args.runs)


def synthetic(args: argparse.Namespace) -> None:
    per_street = None
    n_target = args.lanterns
    # Streets both ways on a square grid; total street length = lanterns x 30 m.
    total_m = n_target * LANTERN_EVERY_M
    side = float(np.sqrt(total_m * BLOCK_M / 2.0))
    lines = int(side // BLOCK_M) + 1
    side = (lines - 1) * BLOCK_M
    projection = MetricProjection.around(*CENTRE)
    cx, cy = projection.to_xy([CENTRE[0]], [CENTRE[1]])
    x0, y0 = float(cx[0]) - side / 2, float(cy[0]) - side / 2
    along = np.arange(0.0, side, LANTERN_EVERY_M)
    xs_l, ys_l = [], []
    for k in range(lines):
        offset = np.where(np.arange(len(along)) % 2 == 0, 6.0, -6.0)
        xs_l += [x0 + along, x0 + k * BLOCK_M + offset]
        ys_l += [y0 + k * BLOCK_M + offset, y0 + along]
    xs, ys = np.concatenate(xs_l)[:n_target], np.concatenate(ys_l)[:n_target]
    per_street = len(along)
    lons, lats = projection.to_lonlat(xs, ys)
    ids = [f"S{i:07d}" for i in range(len(xs))]
    segments = []
    for k in range(lines):
        for j in range(lines - 1):
            a, b = x0 + j * BLOCK_M, x0 + (j + 1) * BLOCK_M
            y = y0 + k * BLOCK_M
            (la, lb), (pa, pb) = projection.to_lonlat([a, b], [y, y])
            cls = "primary" if k % 10 == 0 else "residential"
            segments.append((f"h{k}-{j}", f"Querstrasse {k}", cls, [[la, pa], [lb, pb]]))
            (la, lb), (pa, pb) = projection.to_lonlat(
                [y - y0 + x0, y - y0 + x0], [y0 + j * BLOCK_M, y0 + (j + 1) * BLOCK_M]
            )
            segments.append((f"v{k}-{j}", f"Laengsstrasse {k}", cls, [[la, pa], [lb, pb]]))
    houses = []
    for i in range(lines - 1):
        for j in range(lines - 1):
            bx, by = x0 + i * BLOCK_M + 12.0, y0 + j * BLOCK_M + 12.0
            box = shapely.box(bx, by, bx + BLOCK_M - 24.0, by + BLOCK_M - 24.0)
            coords = shapely.get_coordinates(box)
            lo, la = projection.to_lonlat(coords[:, 0], coords[:, 1])
            houses.append(shapely.Polygon(np.column_stack([lo, la])))
    if args.no_buildings:
        houses = []
    label = f"synthetic {len(ids):,}"
    print(
        f"{label}: {lines} x {lines} streets, {side / 1000:.1f} km, {per_street} lanterns each way"
    )
    keys = [None] * len(ids)
    model, _ = build(label, args, ids, lons, lats, np.ones(len(ids), bool), keys, segments, houses)
    preview_figures(label, model, normalize_street_name(f"Querstrasse {lines // 2}"), args.runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lanterns", type=int, default=100_000)
    parser.add_argument("--spacing", type=float, default=5.0, help="receiver spacing, m")
    parser.add_argument("--radius", type=float, default=150.0, help="matrix radius, m")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--no-buildings", action="store_true")
    args = parser.parse_args()
    if not args.skip_demo:
        demo(args)
    if args.lanterns:
        synthetic(args)


if __name__ == "__main__":
    main()
