"""Geocode boundaries as stored: an ARS of a Land or Kreis covers the municipalities inside it,
an ARS of one municipality only itself; other schemes match exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lightctl.cap.outcomes import identifier_in
from lightctl.domain.records import GeocodeArea
from lightctl.store import Database
from lightctl.store import cap as cap_store
from lightctl.store.cap import ars_prefix

SQUARE = {"type": "Polygon", "coordinates": [[[8, 47], [9, 47], [9, 48], [8, 48], [8, 47]]]}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'geo.db'}")
    database.create_all()
    areas = [
        GeocodeArea("ARS", code, "", SQUARE, "", datetime.now(UTC))
        for code in ("081110000000", "081155001017", "081155001020", "100420111111")
    ] + [GeocodeArea("WARNCELLID", "808212000", "", SQUARE, "", datetime.now(UTC))]
    with database.session() as session:
        assert cap_store.save_geocodes(session, areas) == (5, 0)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("080000000000", "08"),  # Baden-Württemberg
        ("100000000000", "10"),  # Saarland, not "1" (which would take Berlin, 11, along)
        ("081150000000", "08115"),  # Landkreis Böblingen
        ("081155001017", "081155001017"),  # one municipality
    ],
)
def test_ars_prefixes_follow_the_key_structure(code: str, prefix: str) -> None:
    assert ars_prefix(code) == prefix


def test_a_kreis_key_covers_its_municipalities_and_nothing_else(db: Database) -> None:
    with db.session() as session:
        kreis = {r.code for r in cap_store.geocode_areas(session, "ARS", "081150000000")}
        assert kreis == {"081155001017", "081155001020"}
        assert [r.code for r in cap_store.geocode_areas(session, "ARS", "081110000000")] == [
            "081110000000"
        ]  # imported itself: the exact boundary
        saarland = {r.code for r in cap_store.geocode_areas(session, "ARS", "100000000000")}
        assert saarland == {"100420111111"}
        assert cap_store.geocode_areas(session, "ARS", "081155001099") == []
        assert len(cap_store.geocode_areas(session, "WARNCELLID", "808212000")) == 1
        assert cap_store.geocode_areas(session, "WARNCELLID", "808212") == []
        assert cap_store.geocode_counts(session) == {"ARS": 4, "WARNCELLID": 1}


def test_a_refused_body_is_audited_under_its_identifier() -> None:
    assert identifier_in(b"<cap:alert><cap:identifier> X-1 </cap:identifier>") == "X-1"
    assert identifier_in(b'{"identifier": "mow.DE-1", "sender": "x"}') == "mow.DE-1"
    assert identifier_in(b"garbage") is None
