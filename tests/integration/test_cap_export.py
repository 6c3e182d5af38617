"""GET /alerts/{id}/cap is CAP 1.2 that validates against the OASIS schema; importing our own
export reaches the same lanterns; /cap/feed.atom lists what is active."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from tests.integration import cap_support
from tests.integration.conftest import LiveService
from tests.support import FIXTURES

pytestmark = [pytest.mark.broker]

cap_service = cap_support.cap_service
SCHEMA = etree.XMLSchema(etree.parse(str(FIXTURES / "cap" / "schema" / "cap12.xsd")))
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
NORTH_AREA = {
    "type": "Polygon",
    "coordinates": [
        [
            [8.5370, 47.3710],
            [8.5410, 47.3710],
            [8.5410, 47.3730],
            [8.5370, 47.3730],
            [8.5370, 47.3710],
        ]
    ],
}


def _send(service: LiveService, **body: Any) -> dict[str, Any]:
    response = service.http.post("/alerts", json=body)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def _cap(service: LiveService, alert_id: str) -> Any:
    response = service.http.get(f"/alerts/{alert_id}/cap")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/cap+xml")
    doc = etree.fromstring(response.content)
    assert SCHEMA.validate(doc), SCHEMA.error_log
    return doc


def _all(doc: Any, path: str) -> list[str]:
    return [e.text for e in doc.findall(path, NS)]


def test_exports_of_free_text_templates_updates_cancels_and_exercises_validate(
    cap_service: LiveService,
) -> None:
    free = _send(
        cap_service,
        target={"area": NORTH_AREA},
        messages={"de": "Achtung. Fenster schließen.", "en": "Attention. Close windows."},
        priority=2,
    )
    doc = _cap(cap_service, free["id"])
    assert _all(doc, "cap:msgType") == ["Alert"]
    assert _all(doc, "cap:status") == ["Actual"]
    assert _all(doc, "cap:info/cap:language") == ["de", "en"]
    assert _all(doc, "cap:info/cap:description") == [
        "Achtung. Fenster schließen.",
        "Attention. Close windows.",
    ]
    polygon = _all(doc, "cap:info/cap:area/cap:polygon")[0].split()
    assert polygon[0] == "47.371,8.537"  # lat,lon: GeoJSON's [8.537, 47.371] flipped
    assert len(polygon) == 5
    assert polygon[0] == polygon[-1]

    template = _send(
        cap_service, target={"streets": ["Bahnhofstrasse"]}, template="fire_smoke", priority=2
    )
    tdoc = _cap(cap_service, template["id"])
    assert _all(tdoc, "cap:info/cap:language") == ["de", "en", "tr", "ar"]
    assert _all(tdoc, "cap:info/cap:event")[0] == "fire_smoke"
    assert len(_all(tdoc, "cap:info[1]/cap:area/cap:circle")) == template["lantern_count"]

    update = cap_service.http.post(
        f"/alerts/{free['id']}/update",
        json={"messages": {"de": "Neu: Gebiet verlassen."}, "languages": ["de"]},
    )
    assert update.status_code == 200, update.text
    udoc = _cap(cap_service, free["id"])
    assert _all(udoc, "cap:msgType") == ["Update"]
    first_id = _all(doc, "cap:identifier")[0]
    assert _all(udoc, "cap:references")[0].split(",")[1] == first_id
    assert _all(udoc, "cap:info/cap:description") == ["Neu: Gebiet verlassen."]

    cancelled = cap_service.http.post(f"/alerts/{free['id']}/cancel")
    assert cancelled.status_code == 200
    cdoc = _cap(cap_service, free["id"])
    assert _all(cdoc, "cap:msgType") == ["Cancel"]
    assert cdoc.findall("cap:info", NS) == []
    assert _all(cdoc, "cap:references")[0].split(",")[1] == first_id

    drill = _send(
        cap_service,
        target={"area": NORTH_AREA},
        messages={"de": "Dies ist eine Übung."},
        exercise=True,
        priority=2,
    )
    assert _all(_cap(cap_service, drill["id"]), "cap:status") == ["Exercise"]

    clear = cap_service.http.post(f"/alerts/{template['id']}/all-clear")
    assert clear.status_code == 200, clear.text
    adoc = _cap(cap_service, template["id"])
    assert _all(adoc, "cap:msgType") == ["Update"]
    assert set(_all(adoc, "cap:info/cap:responseType")) == {"AllClear"}


@pytest.mark.parametrize(
    "target", [{"area": NORTH_AREA}, {"streets": ["Bahnhofstrasse"]}], ids=["area", "street"]
)
def test_importing_our_own_export_reaches_the_same_lanterns(
    cap_service: LiveService, target: dict[str, Any]
) -> None:
    alert = _send(cap_service, target=target, messages={"de": "Achtung."}, priority=2)
    mine = cap_service.http.get(f"/alerts/{alert['id']}", params={"lanterns": True}).json()
    export = cap_service.http.get(f"/alerts/{alert['id']}/cap").content
    preview = cap_service.http.post("/cap/preview", content=export)
    assert preview.status_code == 200, preview.text
    again = preview.json()["plan"]
    assert sorted(again["lantern_ids"]) == sorted(d["lantern"] for d in mine["lanterns"])
    assert again["languages"] == ["de"]


def test_the_atom_feed_lists_active_alerts_with_their_cap_links(
    cap_service: LiveService,
) -> None:
    live = _send(cap_service, target={"area": NORTH_AREA}, messages={"de": "Achtung."}, priority=2)
    ended = _send(cap_service, target={"area": NORTH_AREA}, messages={"de": "Vorbei."}, priority=2)
    cap_service.http.post(f"/alerts/{ended['id']}/cancel")
    response = cap_service.http.get("/cap/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    atom = {"a": "http://www.w3.org/2005/Atom"}
    links = [e.get("href") for e in feed.findall("a:entry/a:link", atom)]
    assert links == [f"{cap_service.url}/api/v1/alerts/{live['id']}/cap"]
