"""Inventory readers: the real Zürich slices agree across formats; bad rows skip with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyproj import Geod

from lightctl.errors import ImportFailed, InvalidRequest
from lightctl.geo import (
    LanternFormat,
    LanternRecord,
    SkippedRow,
    StreetSegment,
    count_rows,
    detect_format,
    read_lanterns,
    read_streets,
)

GEOD = Geod(ellps="WGS84")


def split(items: list[LanternRecord | SkippedRow]) -> tuple[list[LanternRecord], list[SkippedRow]]:
    return (
        [i for i in items if isinstance(i, LanternRecord)],
        [i for i in items if isinstance(i, SkippedRow)],
    )


def test_real_csv_in_lv95_and_real_geojson_agree_within_half_a_metre(fixtures: Path) -> None:
    from_csv = list(read_lanterns(fixtures / "zurich_lanterns_small.csv", crs="EPSG:2056"))
    from_geojson = list(read_lanterns(fixtures / "zurich_lanterns_small.geojson"))
    csv_records, csv_skips = split(from_csv)
    geojson_records, geojson_skips = split(from_geojson)
    assert csv_skips == geojson_skips == []
    assert len(csv_records) == 148
    assert [r.id for r in csv_records] == [r.id for r in geojson_records]
    for a, b in zip(csv_records, geojson_records, strict=True):
        _, _, metres = GEOD.inv(a.lon, a.lat, b.lon, b.lat)
        assert metres < 0.5, (a.id, metres)
        assert a.orientation_deg == b.orientation_deg
    # The BOM belongs to the file, not to the first column's name.
    assert "objectid" in csv_records[0].properties
    assert csv_records[0].properties["nisnr"] == csv_records[0].id


def test_reading_lv95_as_wgs84_fails_loudly(fixtures: Path) -> None:
    items = list(read_lanterns(fixtures / "zurich_lanterns_small.csv"))
    records, skips = split(items)
    assert records == []
    assert len(skips) == 148
    assert all("outside -180..180" in s.reason for s in skips)


BAD_CSV = {
    2: "missing coordinates",
    3: "missing coordinate lat",
    4: "coordinate lon is not a number: 'abc'",
    5: "not finite",
    6: "not finite",
    7: "lon 200.5000000 outside -180..180",
    8: "lat 95.0000000 outside -90..90",
    9: "exactly (0, 0)",
    10: "missing id",
    11: "'T/SLASH' cannot be an MQTT topic level",
    12: "'T+PLUS' cannot be an MQTT topic level",
    13: "duplicate id 'T-GOOD-1' (first on row 1)",
    14: "row has 2 fields, the header has 4",
}

BAD_LV95_CSV = {
    2: "missing coordinates",
    3: "missing coordinates",
    4: "not a WKT POINT",
    5: "not a WKT POINT",
    6: "not finite",
    7: "coordinate E/x is not a number: '2683185.2x'",
    8: "outside the domain of EPSG:2056",
    9: "far outside the area of use of EPSG:2056",
    10: "duplicate id 'T900001' (first on row 1)",
    11: "missing id",
    12: "'T 900012' cannot be an MQTT topic level",
    13: "exactly (0, 0)",
}

BAD_GEOJSON = {
    2: "missing coordinates (geometry is null)",
    3: "missing coordinates",
    4: "not finite",
    5: "is not a number",
    6: "geometry is a LineString, expected a Point",
    7: "lon 181.0000000 outside -180..180",
    8: "lat -91.0000000 outside -90..90",
    9: "missing id",
    10: "'G#HASH' cannot be an MQTT topic level",
    11: "duplicate id 'G-GOOD-1' (first on row 1)",
    14: "not a GeoJSON Feature",
}


@pytest.mark.parametrize(
    ("name", "crs", "expected_skips", "expected_ids"),
    [
        ("lanterns_bad_rows.csv", "EPSG:4326", BAD_CSV, ["T-GOOD-1", "T-GOOD-2"]),
        ("lanterns_bad_rows_lv95.csv", "EPSG:2056", BAD_LV95_CSV, ["T900001", "T900014"]),
        (
            "lanterns_bad_rows.geojson",
            "EPSG:4326",
            BAD_GEOJSON,
            ["G-GOOD-1", "4711", "LEU-FROM-PROPS"],
        ),
    ],
)
def test_every_bad_row_is_skipped_with_its_reason(
    fixtures: Path, name: str, crs: str, expected_skips: dict[int, str], expected_ids: list[str]
) -> None:
    items = list(read_lanterns(fixtures / name, crs=crs))
    records, skips = split(items)
    assert [r.id for r in records] == expected_ids
    assert sorted(s.row for s in skips) == sorted(expected_skips)
    for skip in skips:
        assert expected_skips[skip.row] in skip.reason, (skip.row, skip.reason)
    assert len(items) == count_rows(fixtures / name)
    for record in records:
        assert (record.lon, record.lat) != (0.0, 0.0)


def test_bad_rows_keep_what_can_be_kept(fixtures: Path) -> None:
    by_id = {
        r.id: r
        for r in read_lanterns(fixtures / "lanterns_bad_rows.csv")
        if isinstance(r, LanternRecord)
    }
    # An unreadable facing does not cost the lantern: it still warns, without a known orientation.
    assert by_id["T-GOOD-2"].orientation_deg is None
    assert by_id["T-GOOD-2"].properties["orientation_deg"] == "facing north"
    lv95 = {
        r.id: r
        for r in read_lanterns(fixtures / "lanterns_bad_rows_lv95.csv", crs="EPSG:2056")
        if isinstance(r, LanternRecord)
    }
    assert lv95["T900014"].orientation_deg == 359.5  # POINT Z: the height is dropped
    geo = {
        r.id: r
        for r in read_lanterns(fixtures / "lanterns_bad_rows.geojson")
        if isinstance(r, LanternRecord)
    }
    assert geo["4711"].orientation_deg == 10.0  # 370° folds to 0..360


def test_skips_name_the_id_when_it_is_known(fixtures: Path) -> None:
    skips = [
        s for s in read_lanterns(fixtures / "lanterns_bad_rows.csv") if isinstance(s, SkippedRow)
    ]
    assert {s.row: s.id for s in skips}[7] == "T-LON-RANGE"


def test_duplicates_are_found_across_transform_batches(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    rows = [f"L{i},{8.5 + i * 1e-6:.7f},47.37" for i in range(1, 5001)]
    rows[4499] = "L10,8.51,47.38"
    path.write_text("id,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    items = list(read_lanterns(path))
    assert [i.row for i in items if isinstance(i, SkippedRow)] == [4500]
    assert items[4499] == SkippedRow(4500, "duplicate id 'L10' (first on row 10)", "L10")
    assert [i.id for i in items[:3] if isinstance(i, LanternRecord)] == ["L1", "L2", "L3"]


def test_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffnisnr;E;N;orientierung\nLEU1;2683185,2;1247427,9;12,5\n".encode())
    (record,) = read_lanterns(path, crs="EPSG:2056")
    assert isinstance(record, LanternRecord)
    assert record.lon == pytest.approx(8.540036, abs=1e-6)
    assert record.orientation_deg == 12.5


def test_id_field_picks_the_id_column(fixtures: Path) -> None:
    items = list(
        read_lanterns(fixtures / "zurich_lanterns_small.csv", crs="EPSG:2056", id_field="objectid")
    )
    assert all(isinstance(i, LanternRecord) and i.id.isdigit() for i in items)
    with pytest.raises(InvalidRequest) as caught:
        read_lanterns(fixtures / "zurich_lanterns_small.csv", crs="EPSG:2056", id_field="lamp_no")
    problem = caught.value.problems[0]
    assert problem.loc == ("id_field",)
    assert "nisnr" in problem.suggestions


def test_overpass_street_lamps(fixtures: Path) -> None:
    path = fixtures / "overpass_street_lamps.json"
    assert detect_format(path) is LanternFormat.OVERPASS
    records, skips = split(list(read_lanterns(path)))
    assert [r.id for r in records] == [
        "osm-node-9000000001",
        "osm-node-9000000002",
        "osm-node-9000000006",
    ]
    assert [r.orientation_deg for r in records] == [135.0, 45.0, None]  # "NE" is 45°
    assert (records[0].lon, records[0].lat) == (8.5391, 47.3702)
    assert records[0].properties["ref"] == "ZH-17"
    assert skips == [SkippedRow(4, "missing coordinates", "osm-node-9000000004")]
    assert count_rows(path) == 4
    by_ref = list(read_lanterns(path, id_field="ref"))
    assert isinstance(by_ref[0], LanternRecord)
    assert by_ref[0].id == "ZH-17"
    assert by_ref[1] == SkippedRow(2, "missing id")


def test_ngsi_ld_streetlights(fixtures: Path) -> None:
    path = fixtures / "ngsi_ld_streetlights.json"
    assert detect_format(path) is LanternFormat.NGSI_LD
    records, skips = split(list(read_lanterns(path)))
    assert [r.id for r in records] == [
        "streetlight:zurich:LEU101190",
        "zurich-bahnhofstrasse-7",  # '/' and ' ' cannot stand in a topic level
        "streetlight:zurich:expanded-type",
    ]
    first = records[0]
    assert (first.lon, first.lat) == (8.540036, 47.3724388)
    assert first.properties["status"] == "ok"
    assert first.properties["refStreetlightGroup"].endswith("G345")
    assert first.properties["ngsi_id"] == "urn:ngsi-ld:Streetlight:streetlight:zurich:LEU101190"
    assert [(s.row, s.id) for s in skips] == [(4, "streetlight:zurich:no-location")]
    assert "missing coordinates" in skips[0].reason


@pytest.mark.parametrize("fmt", ["overpass", "ngsi-ld"])
def test_wgs84_only_formats_refuse_another_crs(fixtures: Path, fmt: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_lanterns(fixtures / "overpass_street_lamps.json", fmt=fmt, crs="EPSG:2056")
    assert caught.value.problems[0].loc == ("crs",)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("zurich_lanterns_small.csv", LanternFormat.CSV),
        ("zurich_lanterns_small.geojson", LanternFormat.GEOJSON),
        ("overpass_street_lamps.json", LanternFormat.OVERPASS),
        ("ngsi_ld_streetlights.json", LanternFormat.NGSI_LD),
    ],
)
def test_detect_format(fixtures: Path, name: str, fmt: LanternFormat) -> None:
    assert detect_format(fixtures / name) is fmt


def test_detect_format_by_content(tmp_path: Path, fixtures: Path) -> None:
    as_json = tmp_path / "export.json"
    as_json.write_bytes((fixtures / "zurich_lanterns_small.geojson").read_bytes())
    assert detect_format(as_json) is LanternFormat.GEOJSON
    as_txt = tmp_path / "export.txt"
    as_txt.write_bytes((fixtures / "lanterns_bad_rows.csv").read_bytes())
    assert detect_format(as_txt) is LanternFormat.CSV
    unknown = tmp_path / "other.json"
    unknown.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(ImportFailed, match="cannot tell the format"):
        detect_format(unknown)


def test_unreadable_files_fail_the_import(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file"):
        read_lanterns(tmp_path / "missing.csv")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,lon,lat,strasse\nL1,8.5,47.3,Bahnhofstra\xdfe\n".encode("latin-1"))
    with pytest.raises(ImportFailed, match="not UTF-8"):
        list(read_lanterns(latin1))
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(ImportFailed, match="not valid JSON"):
        read_lanterns(broken)
    no_coords = tmp_path / "no_coords.csv"
    no_coords.write_text("id,street\nL1,Bahnhofstrasse\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as caught:
        read_lanterns(no_coords)
    # The file and every column seen are named, so the operator knows what to rename.
    assert caught.value.path == str(no_coords)
    assert "cannot find the coordinate columns" in caught.value.reason
    assert "'id', 'street'" in caught.value.reason


def test_bad_arguments_are_invalid_requests(fixtures: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_lanterns(fixtures / "zurich_lanterns_small.csv", fmt="cvs")
    assert caught.value.problems[0].loc == ("format",)
    assert caught.value.problems[0].suggestions == ("csv",)
    with pytest.raises(InvalidRequest) as caught:
        read_lanterns(fixtures / "zurich_lanterns_small.csv", crs="EPSG:LV95")
    assert caught.value.problems[0].loc == ("crs",)


def _feature_collection(crs_name: str, x: float, y: float) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": crs_name}},
            "features": [
                {
                    "type": "Feature",
                    "id": "L1",
                    "geometry": {"type": "Point", "coordinates": [x, y]},
                    "properties": {},
                }
            ],
        }
    )


def test_geojson_crs_member_must_match_the_given_crs(tmp_path: Path) -> None:
    lv95 = tmp_path / "lv95.geojson"
    lv95.write_text(
        _feature_collection("urn:ogc:def:crs:EPSG::2056", 2683185.2, 1247427.9), encoding="utf-8"
    )
    with pytest.raises(ImportFailed, match="declares CRS"):
        read_lanterns(lv95)
    (record,) = read_lanterns(lv95, crs="EPSG:2056")
    assert isinstance(record, LanternRecord)
    assert record.lat == pytest.approx(47.3724388, abs=1e-7)
    crs84 = tmp_path / "crs84.geojson"
    crs84.write_text(
        _feature_collection("urn:ogc:def:crs:OGC:1.3:CRS84", 8.54, 47.37), encoding="utf-8"
    )
    (record,) = read_lanterns(crs84)
    assert isinstance(record, LanternRecord)
    assert (record.lon, record.lat) == (8.54, 47.37)


def test_read_streets_from_the_real_slice(small_segments: list[StreetSegment]) -> None:
    assert len(small_segments) == 357
    names = {s.name for s in small_segments}
    assert {"Bahnhofstrasse", "Münzplatz", "Talacker"} <= names
    assert None in names  # footways without a name are read too
    segment = next(s for s in small_segments if s.name == "Bahnhofstrasse")
    assert segment.cls is not None
    assert all(8.5 < lon < 8.6 and 47.3 < lat < 47.4 for lon, lat in segment.coords)


def test_read_streets_splits_multilines_and_skips_bad_geometry(tmp_path: Path) -> None:
    path = tmp_path / "streets.geojson"
    features = [
        {
            "type": "Feature",
            "id": "m1",
            "geometry": {
                "type": "MultiLineString",
                "coordinates": [[[8.53, 47.37], [8.54, 47.37]], [[8.55, 47.37], [8.56, 47.37]]],
            },
            "properties": {"name": "  Seestrasse ", "highway": "secondary"},
        },
        {
            "type": "Feature",
            "id": "p1",
            "geometry": {"type": "Point", "coordinates": [8.5, 47.3]},
            "properties": {},
        },
        {
            "type": "Feature",
            "id": "s1",
            "geometry": {"type": "LineString", "coordinates": [[8.5, 47.3]]},
            "properties": {"name": ""},
        },
        {
            "type": "Feature",
            "id": "r1",
            "geometry": {"type": "LineString", "coordinates": [[8.5, 47.3], [8.5, 95.0]]},
            "properties": {},
        },
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    items = list(read_streets(path))
    segments = [i for i in items if isinstance(i, StreetSegment)]
    assert [(s.id, s.name, s.cls) for s in segments] == [
        ("m1#0", "Seestrasse", "secondary"),
        ("m1#1", "Seestrasse", "secondary"),
    ]
    skips = [i for i in items if isinstance(i, SkippedRow)]
    assert [(s.row, s.id) for s in skips] == [(2, "p1"), (3, "s1"), (4, "r1")]
    assert "expected a LineString" in skips[0].reason
    assert "at least two points" in skips[1].reason
    assert "outside the lon/lat range" in skips[2].reason


OSM_STREET_FILES = [
    ("zurich_bellevue.osm.pbf", "osm-pbf"),
    ("zurich_bellevue.osm", "osm-xml"),
    ("zurich_bellevue_overpass_geom.json", "overpass"),
    ("zurich_bellevue_overpass_skel.json", "overpass"),
]


def test_the_osm_extract_reads_the_same_in_every_format(fixtures: Path) -> None:
    from lightctl.geo.readers import StreetFormat, detect_street_format

    read = {}
    for name, fmt in OSM_STREET_FILES:
        assert detect_street_format(fixtures / name) is StreetFormat(fmt)
        items = list(read_streets(fixtures / name))
        assert all(isinstance(i, StreetSegment) for i in items), name
        read[name] = sorted(
            (s.id, s.name, s.cls, s.coords) for s in items if isinstance(s, StreetSegment)
        )
    first = read["zurich_bellevue.osm"]
    assert all(segments == first for segments in read.values())
    # 42 named highway ways and the unnamed link, kept for walking (no name, no street).
    assert len(first) == 43
    assert [s[:3] for s in first if s[1] is None] == [("osm-way-1056345549", None, "primary_link")]
    utoquai = [s for s in first if s[1] == "Utoquai"]
    assert {s[2] for s in utoquai} == {"primary", "primary_link"}
    assert all(s[0].startswith("osm-way-") for s in first)
    assert detect_street_format(fixtures / "zurich_streets_small.geojson") is StreetFormat.GEOJSON


def test_osm_ways_that_are_no_street_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "mixed.osm"
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
        '<node id="1" lat="47.37" lon="8.54"/><node id="2" lat="47.371" lon="8.541"/>\n'
        '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>'
        '<tag k="name" v="  Seestrasse "/></way>\n'
        '<way id="11"><nd ref="1"/><nd ref="2"/><tag k="highway" v="proposed"/>'
        '<tag k="name" v="Neue Strasse"/></way>\n'
        '<way id="12"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/>'
        '<tag k="name" v="Haus"/></way>\n'
        '<way id="13"><nd ref="1"/><nd ref="99"/><tag k="highway" v="footway"/>'
        '<tag k="name" v="Halber Weg"/></way>\n'
        "</osm>\n",
        encoding="utf-8",
    )
    items = list(read_streets(path))
    assert items[0] == StreetSegment(
        "osm-way-10", "Seestrasse", "residential", ((8.54, 47.37), (8.541, 47.371))
    )
    # A way whose other node lies outside the extract cannot be drawn: skipped, named.
    assert items[1:] == [SkippedRow(4, "fewer than two of its nodes are in the file", "osm-way-13")]


def test_compressed_osm_xml_as_published(tmp_path: Path, fixtures: Path) -> None:
    import bz2
    import gzip

    xml = (fixtures / "zurich_bellevue.osm").read_bytes()
    expected = list(read_streets(fixtures / "zurich_bellevue.osm"))
    (tmp_path / "x.osm.bz2").write_bytes(bz2.compress(xml))
    (tmp_path / "x.osm.gz").write_bytes(gzip.compress(xml))
    assert list(read_streets(tmp_path / "x.osm.bz2")) == expected
    assert list(read_streets(tmp_path / "x.osm.gz")) == expected
