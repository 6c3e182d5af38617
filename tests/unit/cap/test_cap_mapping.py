"""What a CAP message says on the lanterns, and where: languages, texts, colour, areas."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from lightctl.cap.areas import message_targeting
from lightctl.cap.mapping import (
    audio_resources_note,
    cap_text,
    plain,
    severity_of,
    spoken,
    voice_of,
)
from lightctl.cap.model import CapInfo, CapMessage
from lightctl.cap.parse import parse_message
from lightctl.cap.xmlread import CapRefused
from lightctl.settings import SUPPORTED_LANGUAGES
from tests.support import FIXTURES

CAP = FIXTURES / "cap"
NINA = CAP / "nina" / "ha-fixture-warning-details-mowas-dwd-biwapp.json"
# The fixture inventory's extent (lon/lat): Bahnhofstrasse, Zürich.
EXTENT = (8.5375481, 47.3695186, 8.540486, 47.3724831)
LEAD = {"de": "Amtliche Warnung.", "de-LS": "Amtliche Warnung.", "en": "Official warning."}


def no_geocodes(_scheme: str, _code: str) -> list[dict[str, Any]]:
    return []


@pytest.mark.parametrize(
    ("tag", "voice"),
    [
        ("de-DE", "de"),
        ("DE", "de"),
        ("DE-LS", "de-LS"),
        ("de-LS", "de-LS"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("tr", "tr"),
        ("ar", "ar"),
        ("es-419", "es"),
        ("fr-CA", "fr"),
        ("is-IS", None),
        ("zh-tw", None),
    ],
)
def test_cap_languages_map_to_our_voices(tag: str, voice: str | None) -> None:
    assert voice_of(tag, SUPPORTED_LANGUAGES) == voice


def _mowas_nine_languages() -> CapMessage:
    """The real MoWaS update with its German block repeated in eight more languages."""
    details = json.loads(NINA.read_text(encoding="utf-8"))
    base = parse_message(json.dumps(details["mow.DE-BW-S-SE018-20211102-18-001"]).encode())
    german = base.infos[0]
    tags = ["FA", "EN", "DE-LS", "AR", "TR", "PL", "RU", "UK"]  # deliberately out of order
    extra = [replace(german, language=t, headline=f"Headline {t}") for t in tags]
    return replace(base, infos=(german, *extra))


def test_a_mowas_warning_in_nine_languages_plays_ours_city_language_first() -> None:
    message = _mowas_nine_languages()
    assert len(message.infos) == 9
    words = spoken(message, SUPPORTED_LANGUAGES, SUPPORTED_LANGUAGES, LEAD, 1000)
    assert words.languages == ("de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl")
    assert words.skipped == ("FA",)
    german = words.messages["de"]
    assert german.startswith("Amtliche Warnung. Corona-Verordnung des Landes")
    assert "<br" not in german
    assert "Waschen Sie sich regelmäßig" in german  # instruction, not description
    assert len(german) <= 1000
    assert words.messages["en"].startswith("Official warning. Headline EN.")


def test_description_is_spoken_when_there_is_no_instruction() -> None:
    m = parse_message((CAP / "04-oasis-a4-amber-alert-en-es.xml").read_bytes())
    words = spoken(m, SUPPORTED_LANGUAGES, SUPPORTED_LANGUAGES, {}, 1000)
    assert words.languages == ("en", "es")
    info = m.infos[0]
    expected_body = plain(info.instruction) or plain(info.description)
    assert words.messages["en"].endswith(expected_body if expected_body.endswith(".") else "")


def test_html_and_entities_are_stripped() -> None:
    assert plain("Fenster &amp; Türen<br/>schließen <b>sofort</b>") == (
        "Fenster & Türen schließen sofort"
    )
    assert plain("a &lt;br /&gt; b") == "a b"  # escaped markup, as CAP-AU sends it


def test_long_texts_are_cut_at_a_sentence() -> None:
    text = "Erster Satz ist hier. " * 10
    cut = cap_text(text.strip(), 100)
    assert len(cut) <= 100
    assert cut.endswith(".")


def test_area_color_chooses_the_warning_colour() -> None:
    dwd = parse_message((CAP / "06-dwd-starkregen-update-8lang.xml").read_bytes())
    codes = {c.name: c.value for c in dwd.infos[0].event_codes}
    assert codes["AREA_COLOR"] == "251 140 0"  # DWD sends it as an eventCode
    assert severity_of(dwd) == "severe"  # orange, nearest to our severe orange
    tsunami = parse_message((CAP / "14-ntwc-tsunami-warning-update.xml").read_bytes())
    assert severity_of(tsunami) == "extreme"


def test_embedded_audio_is_named_and_never_spoken() -> None:
    m = parse_message((CAP / "18-ipaws-adr-test-embedded-mp3.xml").read_bytes())
    notes = audio_resources_note(m, 2 * 1024 * 1024)
    assert notes
    assert all("ignored" in n for n in notes)
    small = audio_resources_note(m, 1000)
    assert any("over 1000" in n for n in small)
    words = spoken(m, SUPPORTED_LANGUAGES, SUPPORTED_LANGUAGES, {}, 1000)
    assert "base64" not in words.messages["en"].lower()


def _message_with(info: CapInfo) -> CapMessage:
    base = parse_message((CAP / "02-oasis-a2-severe-thunderstorm-polygon-same.xml").read_bytes())
    return replace(base, infos=(info,))


def test_polygons_become_lon_lat_geojson() -> None:
    base = parse_message((CAP / "02-oasis-a2-severe-thunderstorm-polygon-same.xml").read_bytes())
    t = message_targeting(base, no_geocodes, None)
    assert t.target is not None
    assert t.target.area is not None
    ring = t.target.area["coordinates"][0]
    lons = [p[0] for p in ring]
    assert all(-121 < lon < -119 for lon in lons)  # California: lon first in GeoJSON


def test_a_circle_radius_is_kilometres() -> None:
    m = parse_message((CAP / "11-australia-rfs-prefixed-ns-circles.xml").read_bytes())
    circle = m.areas[0].circles[0]
    assert circle.radius_km == 25.0
    t = message_targeting(m, no_geocodes, None)
    assert t.target is not None
    assert t.target.circle is not None  # both info blocks name the same circle: one circle
    assert t.target.circle.radius_m == 25_000
    assert (t.target.circle.lon, t.target.circle.lat) == (147.0598, -35.3888)


def test_radius_zero_is_legal_and_reaches_nothing() -> None:
    for name in (
        "03-oasis-a3-earthquake-update-circle.xml",
        "13-usgs-earthquake-iso8859-1-circle.xml",
    ):
        m = parse_message((CAP / name).read_bytes())
        t = message_targeting(m, no_geocodes, None)
        assert t.target is None
        assert any("radius 0 km" in w for w in t.warnings)


def _zurich(polygon: list[tuple[float, float]]) -> CapMessage:
    base = parse_message((CAP / "02-oasis-a2-severe-thunderstorm-polygon-same.xml").read_bytes())
    area = replace(base.infos[0].areas[0], polygons=(tuple(polygon),), geocodes=())
    return replace(base, infos=(replace(base.infos[0], areas=(area,)),))


def test_swapped_coordinates_are_refused_as_lon_lat() -> None:
    right = [(47.369, 8.537), (47.369, 8.541), (47.373, 8.541), (47.373, 8.537), (47.369, 8.537)]
    t = message_targeting(_zurich(right), no_geocodes, EXTENT)
    assert t.target is not None
    swapped = [(lon, lat) for lat, lon in right]
    with pytest.raises(CapRefused) as info:
        message_targeting(_zurich(swapped), no_geocodes, EXTENT)
    assert "look like lon,lat" in info.value.message
    assert info.value.problems[0].loc == ("alert", "info", 0, "area", 0, "polygon", 0)


def test_geocodes_are_placed_through_imported_boundaries_or_reported() -> None:
    m = parse_message((CAP / "12-australia-bom-geocodes.xml").read_bytes())
    codes = [g for a in m.areas for g in a.geocodes]
    known = codes[0]
    square = {
        "type": "Polygon",
        "coordinates": [[[150, -34], [151, -34], [151, -33], [150, -33], [150, -34]]],
    }

    def lookup(scheme: str, code: str) -> list[dict[str, Any]]:
        return [square] if (scheme, code) == (known.name.upper(), known.value) else []

    t = message_targeting(m, lookup, None)
    assert t.target is not None
    assert [f"{c.name}:{c.value}" for c in t.used_geocodes] == [
        f"{known.name.upper()}:{known.value}"
    ]
    assert len(t.unknown_geocodes) == len({(c.name, c.value) for c in codes}) - 1
    nothing = message_targeting(m, no_geocodes, None)
    assert nothing.target is None
    assert nothing.unknown_geocodes


def test_nina_ars_keys_come_from_warn_verwaltungsbereiche() -> None:
    details = json.loads(NINA.read_text(encoding="utf-8"))
    m = parse_message(json.dumps(details["mow.DE-BW-S-SE018-20211102-18-001"]).encode())
    t = message_targeting(m, no_geocodes, None)
    assert {c.name for c in t.unknown_geocodes} == {"ARS"}
    assert len(t.unknown_geocodes) == 16  # the 16 Länder; NINA's "AreaId 0" names no place
