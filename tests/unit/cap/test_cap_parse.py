"""Every real CAP and NINA file is accepted, accepted with a named warning, or refused, as the
fixtures' README says; counts of what each message carries are checked exactly."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from lightctl.cap.parse import parse_message
from lightctl.cap.xmlread import CapRefused
from tests.support import FIXTURES

CAP = FIXTURES / "cap"
NINA_DETAILS = CAP / "nina" / "ha-fixture-warning-details-mowas-dwd-biwapp.json"
SENT_15 = datetime(2013, 1, 5, 10, 58, 23, tzinfo=UTC)


def expectations() -> dict[str, str]:
    """file → expected outcome, read from the README's table (so no file is forgotten)."""
    out = {}
    for line in (CAP / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 5 and cells[1].startswith("`") and cells[1].endswith(".xml`"):
            out[cells[1].strip("`")] = cells[4]
    return out


def test_the_readme_table_names_every_xml_fixture() -> None:
    names = {p.name for p in CAP.glob("*.xml")}
    assert set(expectations()) == names
    assert len(names) == 29


@pytest.mark.parametrize("name", sorted(expectations()))
def test_each_fixture_has_the_outcome_its_readme_names(name: str) -> None:
    expected = expectations()[name]
    data = (CAP / name).read_bytes()
    if expected.startswith("reject"):
        with pytest.raises(CapRefused) as info:
            parse_message(data)
        assert info.value.problems, "a refusal names the element"
        assert all(p.loc for p in info.value.problems)
    else:
        message = parse_message(data)
        assert message.identifier
        assert message.sender


# file: (info blocks, languages, polygons, circles, geocodes, references)
COUNTS = {
    "02-oasis-a2-severe-thunderstorm-polygon-same.xml": (1, ("en-US",), 1, 0, 3, 0),
    "03-oasis-a3-earthquake-update-circle.xml": (1, ("en-US",), 0, 1, 0, 1),
    "04-oasis-a4-amber-alert-en-es.xml": (2, ("en-US", "es-US"), 0, 0, 2, 0),
    "06-dwd-starkregen-update-8lang.xml": (
        8,
        ("de-DE", "en", "fr", "es", "ar", "ru", "tr", "pl"),
        8,
        0,
        24,
        1,
    ),
    "07-dwd-starkregen-update-multipolygon-altitude.xml": (8, None, 32, 0, 376, 1),
    "09-canada-naads-alert-en-fr-polygons.xml": (2, ("en-CA", "fr-CA"), 2, 0, 20, 0),
    "11-australia-rfs-prefixed-ns-circles.xml": (2, ("en-AU",), 0, 2, 2, 0),
    "12-australia-bom-geocodes.xml": (1, ("en-AU",), 0, 0, 7, 0),
    "13-usgs-earthquake-iso8859-1-circle.xml": (1, ("en-US",), 0, 1, 0, 0),
    "15-ntwc-tsunami-cancellation-update-3refs.xml": (1, ("en-US",), 0, 1, 0, 3),
    "17-athoc-ipaws-cancel-signed-no-info.xml": (0, (), 0, 0, 0, 1),
    "23-mexico-es419-update-polygon.xml": (1, ("es-419",), 1, 0, 0, 1),
    "24-taiwan-zh-tw-geocode.xml": (1, ("zh-tw",), 0, 0, 1, 0),
    "25-nws-update-multiple-polygons.xml": (1, ("en-US",), 2, 0, 2, 8),
    "27-ireland-met-eireann-emma-id-geocodes.xml": (1, ("en-GB",), 0, 0, 4, 0),
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_of_what_each_message_carries(name: str) -> None:
    infos, languages, polygons, circles, geocodes, references = COUNTS[name]
    m = parse_message((CAP / name).read_bytes())
    assert len(m.infos) == infos
    if languages is not None:
        assert m.languages == languages
    assert sum(len(a.polygons) for a in m.areas) == polygons
    assert sum(len(a.circles) for a in m.areas) == circles
    assert sum(len(a.geocodes) for a in m.areas) == geocodes
    assert len(m.references) == references


def test_polygons_are_lat_lon_pairs_and_circles_in_km() -> None:
    m = parse_message((CAP / "02-oasis-a2-severe-thunderstorm-polygon-same.xml").read_bytes())
    ring = m.areas[0].polygons[0]
    assert ring[0] == (38.47, -120.14)  # "38.47,-120.14": latitude first
    assert ring[0] == ring[-1]
    quake = parse_message((CAP / "03-oasis-a3-earthquake-update-circle.xml").read_bytes())
    circle = quake.areas[0].circles[0]
    assert (circle.lat, circle.lon, circle.radius_km) == (32.9525, -115.5527, 0.0)


def test_fields_the_schema_allows_are_all_read() -> None:
    m = parse_message((CAP / "15-ntwc-tsunami-cancellation-update-3refs.xml").read_bytes())
    assert m.msg_type == "Update"
    assert m.infos[0].response_types == ("None",)
    assert all(r.sender and r.identifier and r.sent for r in m.references)
    assert m.signed
    a1 = parse_message((CAP / "01-oasis-a1-homeland-security-resource.xml").read_bytes())
    assert a1.infos[0].resources[0].mime_type == "image/gif"
    dwd = parse_message((CAP / "07-dwd-starkregen-update-multipolygon-altitude.xml").read_bytes())
    area = dwd.infos[0].areas[0]
    assert area.altitude_ft == 0.0
    assert area.ceiling_ft == pytest.approx(9842.5197)
    assert dwd.infos[0].parameters  # DWD's PHGEM/ZGEM and precipitation parameters
    mp3 = parse_message((CAP / "18-ipaws-adr-test-embedded-mp3.xml").read_bytes())
    audio = [r for r in mp3.infos[0].resources if r.is_audio]
    assert audio
    assert audio[0].deref_uri
    assert len(audio[0].deref_uri) > 50_000
    assert m.sent == SENT_15


def test_a_missing_language_means_en_us_and_iso_8859_1_is_decoded() -> None:
    m = parse_message((CAP / "13-usgs-earthquake-iso8859-1-circle.xml").read_bytes())
    assert m.infos[0].language == "en-US"


def test_status_is_read_never_guessed() -> None:
    test = parse_message((CAP / "22-pagasa-status-test-signed.xml").read_bytes())
    assert test.status == "Test"
    rmt = parse_message((CAP / "19-ipaws-required-monthly-test-embedded-mp3.xml").read_bytes())
    assert rmt.status == "Actual"  # its text says "test"; its status decides


def test_refusals_name_the_element_and_what_is_wrong() -> None:
    cases = {
        "30-invalid-missing-scope.xml": ("alert.scope", "missing"),
        "31-invalid-update-empty-references.xml": ("alert.references", "needs references"),
        "32-invalid-wrong-namespace.xml": ("alert", "not CAP 1.2"),
        "35-malformed-cap11-nws-empty-polygon.xml": ("alert.info.0.area.0.polygon.0", "at least 4"),
        "37-malformed-gdacs-bad-polygon-token-open-ring.xml": (
            "alert.info.0.area.0.polygon.0.143",
            "8.72977)",
        ),
    }
    for name, (where, what) in cases.items():
        with pytest.raises(CapRefused) as info:
            parse_message((CAP / name).read_bytes())
        assert f"{where}: " in info.value.message, info.value.message
        assert what in info.value.message


def test_cap_1_1_is_read_with_a_warning_and_the_1_2_rules() -> None:
    text = (CAP / "35-malformed-cap11-nws-empty-polygon.xml").read_text(encoding="utf-8")
    fixed = re.sub(r"<polygon>\s*</polygon>", "", text)
    m = parse_message(fixed.encode())
    assert m.version == "1.1"
    assert any("CAP 1.1" in w for w in m.warnings)


def test_a_stylesheet_instruction_is_a_named_warning() -> None:
    m = parse_message((CAP / "27-ireland-met-eireann-emma-id-geocodes.xml").read_bytes())
    assert any("xml-stylesheet" in w for w in m.warnings)


def test_nina_details_are_read_with_the_mowas_references_warning() -> None:
    details = json.loads(NINA_DETAILS.read_text(encoding="utf-8"))
    assert len(details) == 3
    parsed = {key: parse_message(json.dumps(value).encode()) for key, value in details.items()}
    mowas = parsed["mow.DE-BW-S-SE018-20211102-18-001"]
    assert mowas.form == "nina"
    assert mowas.msg_type == "Update"
    assert any("references" in w for w in mowas.warnings)
    assert "mow.DE-NW-BN-SE030-20200506-30-001" in {r.identifier for r in mowas.references}
    ars = mowas.infos[0].parameter("warnVerwaltungsbereiche")
    assert ars is not None
    assert len(ars.split(",")) == 16
    dwd = parsed["mow.DE-NW-BN-SE030-20201014-30-000"]
    assert dwd.infos[0].language == "de-DE"
    assert dwd.infos[0].expires is not None
    assert dwd.infos[0].expires.year == 3021


def test_nina_json_with_its_geojson_gets_the_polygon_in_lat_lon() -> None:
    details = json.loads(NINA_DETAILS.read_text(encoding="utf-8"))
    warning = details["biw.BIWAPP-69634"]
    ring = [[8.53, 47.37], [8.54, 47.37], [8.54, 47.38], [8.53, 47.37]]
    geojson = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}],
    }
    m = parse_message(json.dumps({"warning": warning, "geojson": geojson}).encode())
    assert m.areas[-1].polygons[0][0] == (47.37, 8.53)


def _alert(body: str, msg_type: str = "Alert", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>T-1</identifier><sender>test@example.org</sender>
  <sent>2026-05-01T12:00:00+02:00</sent><status>Actual</status><msgType>{msg_type}</msgType>
  <scope>Public</scope>{extra}
  <info><category>Safety</category><event>Test</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty>{body}</info>
</alert>""".encode()


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        (
            "<area><areaDesc>x</areaDesc><polygon>47.1,8.1 47.2,8.2 47.1,8.1</polygon></area>",
            "alert.info.0.area.0.polygon.0",
            "has 3 lat,lon pairs",
        ),
        (
            (
                "<area><areaDesc>x</areaDesc>"
                "<polygon>47.1,8.1 47.2,8.2 47.3,8.1 47.1,8.2</polygon></area>"
            ),
            "alert.info.0.area.0.polygon.0",
            "not closed",
        ),
        (
            (
                "<area><areaDesc>x</areaDesc>"
                "<polygon>47.1,8.1 47.2,8.2x 47.3,8.1 47.1,8.1</polygon></area>"
            ),
            "alert.info.0.area.0.polygon.0.1",
            "8.2x",
        ),
        (
            "<area><areaDesc>x</areaDesc><circle>47.1,8.1 -1</circle></area>",
            "alert.info.0.area.0.circle.0",
            "negative",
        ),
        (
            "<expires>2026-05-01T11:00:00+02:00</expires>",
            "alert.info.0.expires",
            "before the message's sent time",
        ),
        ("<severity>Bad</severity>", "alert.info.0.severity", "appears 2 times"),
    ],
)
def test_bad_input_names_the_element(body: str, where: str, what: str) -> None:
    with pytest.raises(CapRefused) as info:
        parse_message(_alert(body))
    assert f"{where}: " in info.value.message
    assert what in info.value.message


def test_a_circle_with_radius_zero_is_legal() -> None:
    m = parse_message(_alert("<area><areaDesc>x</areaDesc><circle>47.1,8.1 0</circle></area>"))
    assert m.areas[0].circles[0].radius_km == 0.0


def test_an_update_with_empty_references_is_refused() -> None:
    with pytest.raises(CapRefused, match=r"alert\.references"):
        parse_message(_alert("", "Update", "<references> </references>"))


def test_neither_xml_nor_json_is_refused() -> None:
    with pytest.raises(CapRefused, match="neither CAP XML nor NINA JSON"):
        parse_message(b"hello")
    with pytest.raises(CapRefused, match="not valid JSON"):
        parse_message(b"{nope")
    with pytest.raises(CapRefused, match="not well-formed"):
        parse_message(b"<alert")


def test_bodies_over_one_mib_are_refused() -> None:
    with pytest.raises(CapRefused, match="1 MiB"):
        parse_message(b"<" + b" " * (1024 * 1024))
