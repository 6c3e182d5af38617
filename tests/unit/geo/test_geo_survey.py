"""What an inventory says about itself: position ids, shared coordinates, outliers, swapped axes."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from lightctl.geo import LanternRecord, SkippedRow, read_lanterns
from lightctl.geo.geohash import geohashes
from lightctl.geo.survey import assign_position_ids, duplicate_groups, survey


def test_geohash_matches_the_published_examples() -> None:
    # The classic example (42.605 N, 5.603 W is "ezs42") and Zürich's cell u0qj.
    assert geohashes([-5.603], [42.605], 5) == ["ezs42"]
    assert geohashes([8.5449], [47.3668])[0].startswith("u0qj")
    assert geohashes([-180.0, 180.0], [-90.0, 90.0]) == ["000000000000", "zzzzzzzzzzzz"]
    # 1 cm apart: the same cell at 10 characters, told apart at 12 (3.7 x 1.9 cm cells).
    a, b = geohashes([8.5449000, 8.5449002], [47.3668, 47.3668])
    assert a[:10] == b[:10]
    with pytest.raises(ValueError, match="finite"):
        geohashes([float("nan")], [47.0])


def _csv(path: Path, rows: list[str], header: str = "longitude,latitude,lamp_type") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _records(path: Path, crs: str = "EPSG:4326") -> list[LanternRecord]:
    items = list(read_lanterns(path, crs=crs))
    assert all(isinstance(i, LanternRecord) for i in items), items
    return [i for i in items if isinstance(i, LanternRecord)]


ROWS = [
    "8.5449,47.3668,LED",
    "8.5449,47.3668,gas",  # a second luminaire on the same pole, another type
    "8.5449,47.3668,LED",  # and a third, the same type as the first
    "8.5451,47.3670,LED",
    "8.5453,47.3671,LED",
]


def test_position_ids_do_not_depend_on_row_order(tmp_path: Path) -> None:
    seen = set()
    for n, order in enumerate(itertools.permutations(range(len(ROWS)))):
        path = _csv(tmp_path / f"p{n}.csv", [ROWS[i] for i in order])
        records = assign_position_ids(_records(path))
        seen.add(frozenset((r.id, r.lon, r.lat, r.properties["lamp_type"]) for r in records))
    assert len(seen) == 1
    (ids,) = seen
    pole = sorted(i for i, lon, _lat, _t in ids if lon == 8.5449)
    assert len(pole) == 3
    assert pole[0].startswith("pos-u0qj")
    assert len(pole[0]) == 16
    assert pole[1:] == [f"{pole[0]}-2", f"{pole[0]}-3"]
    # The gas lamp sorts after both LED rows ("gas" > "LED"), whatever the row order.
    assert ("" + pole[0] + "-3", 8.5449, 47.3668, "gas") in ids


def test_duplicate_groups_list_rows_in_file_order(tmp_path: Path) -> None:
    records = assign_position_ids(_records(_csv(tmp_path / "d.csv", ROWS)))
    (group,) = duplicate_groups(records)
    assert group.rows == (1, 2, 3)
    assert (group.lon, group.lat) == (8.5449, 47.3668)
    assert len(set(group.ids)) == 3


def _grid(n: int, step_deg: float) -> list[str]:
    return [
        f"{8.50 + (i % n) * step_deg:.7f},{47.37 + (i // n) * step_deg:.7f},LED"
        for i in range(n * n)
    ]


def test_a_stray_point_is_an_outlier_a_small_far_site_is_not(tmp_path: Path) -> None:
    rows = [*_grid(10, 0.0005), "8.60,47.40,LED", "8.70,47.30,LED", "8.70005,47.30,LED"]
    checked = survey(_records(_csv(tmp_path / "o.csv", rows)), [], "EPSG:4326")
    assert checked.outlier_distance_m == 1000.0  # 40-55 m spacing: the floor holds
    # The lone point 8 km away is reported; two lamps 4 m apart 15 km away are a site.
    assert [(o.row, o.lon, o.lat) for o in checked.outliers] == [(101, 8.60, 47.40)]
    assert checked.outliers[0].nearest_m > 5000
    assert checked.refused == []


def test_the_bar_rises_for_a_sparse_inventory(tmp_path: Path) -> None:
    rng = random.Random(3)
    # Rural lamps: each 100-1,500 m from the last along a road (robust spread ~400 m).
    lon, rows = 8.40, []
    for _ in range(60):
        lon += rng.uniform(0.0013, 0.02)
        rows.append(f"{lon:.7f},47.30,LED")
    checked = survey(_records(_csv(tmp_path / "s.csv", rows)), [], "EPSG:4326")
    assert checked.outlier_distance_m is not None
    assert checked.outlier_distance_m > 1500
    assert checked.outliers == []


def test_stored_lanterns_count_as_neighbours(tmp_path: Path) -> None:
    one = _records(_csv(tmp_path / "one.csv", ["8.60,47.40,LED"]))
    assert survey(one, [], "EPSG:4326").outliers == []  # nothing to compare with
    stored_lons = [8.50 + i * 0.0005 for i in range(20)]
    far = survey(one, [], "EPSG:4326", stored_lons, [47.37] * 20)
    assert [o.row for o in far.outliers] == [1]
    near = survey(one, [], "EPSG:4326", [8.6001], [47.40])
    assert near.outliers == []


def test_swapped_lon_lat_in_range_is_refused(tmp_path: Path) -> None:
    rows = [*_grid(6, 0.0005), "47.3702,8.5012,LED"]
    checked = survey(_records(_csv(tmp_path / "w.csv", rows)), [], "EPSG:4326")
    assert checked.outliers == []
    (row,) = checked.refused
    assert row.row == 37
    assert row.refuses_file
    assert row.reason.startswith("lon/lat look swapped: (47.3702, 8.5012) lies")


def test_swapped_easting_northing_is_refused_with_the_hint(tmp_path: Path) -> None:
    rows = [f"L{i},POINT ({2683185.2 + 30 * i} {1247427.9 + 20 * i})" for i in range(8)]
    rows.append("L9,POINT (1247431.0 2683190.0)")  # N and E exchanged
    path = _csv(tmp_path / "lv95.csv", rows, header="id,geometry")
    items = list(read_lanterns(path, crs="EPSG:2056"))
    records = [i for i in items if isinstance(i, LanternRecord)]
    refused = [i for i in items if isinstance(i, SkippedRow) and i.refuses_file]
    assert len(records) == 8
    assert [r.row for r in refused] == [9]
    checked = survey(records, refused, "EPSG:2056")
    (row,) = checked.refused
    assert row.id == "L9"
    assert "x/y look swapped: (2683190, 1247431) would be" in row.reason


def test_reader_gives_position_keys_to_id_less_rows(tmp_path: Path) -> None:
    path = _csv(tmp_path / "g.csv", ['"47.3668, 8.5449",LED'], header="Geo Point,lamp_type")
    (record,) = _records(path)
    assert record.id_from_position
    assert record.id == "pos-" + geohashes([8.5449], [47.3668])[0]
    assert (record.lon, record.lat, record.row) == (8.5449, 47.3668, 1)


def test_a_point_beyond_the_projection_is_still_measured(tmp_path: Path) -> None:
    # 90° from the UTM zone's meridian on the equator: no finite x/y there; still an outlier,
    # with a finite distance (the API cannot carry an infinite one).
    rows = [*_grid(5, 0.0005), "99.0,0.0,LED"]
    checked = survey(_records(_csv(tmp_path / "far.csv", rows)), [], "EPSG:4326")
    (outlier,) = checked.outliers
    assert outlier.row == 26
    assert 9_000_000 < outlier.nearest_m < 11_000_000
