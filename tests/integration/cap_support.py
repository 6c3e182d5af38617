"""CAP messages made for the Zürich fixture inventory (lon 8.5375–8.5405, lat 47.3695–47.3725)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lightctl.store import Database
from tests.integration.conftest import LiveService, make_settings
from tests.support import MosquittoProcess

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SENDER = "DE-NW-BN-SE030"
# The northern half of the fixture lanterns (lat,lon pairs, closed ring).
NORTH = "47.3710,8.5370 47.3710,8.5410 47.3730,8.5410 47.3730,8.5370 47.3710,8.5370"
# The southern half.
SOUTH = "47.3690,8.5370 47.3690,8.5410 47.3710,8.5410 47.3710,8.5370 47.3690,8.5370"
# All of it, and a wide margin beyond the inventory to the east.
WIDE = "47.3690,8.5370 47.3690,8.5600 47.3730,8.5600 47.3730,8.5370 47.3690,8.5370"

# MoWaS plays at once (exercises as exercises); DWD's messages are suggested; nobody else.
POLICY = {SENDER: {"auto": True, "statuses": ["Actual", "Exercise"]}, "opendata@dwd.de": {}}


def cap_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def info(
    lang: str,
    headline: str,
    instruction: str,
    *,
    polygon: str | None = NORTH,
    severity: str = "Severe",
    expires: datetime | None = None,
    geocodes: Sequence[tuple[str, str]] = (),
    response: str = "Shelter",
    parameters: Sequence[tuple[str, str]] = (),
) -> str:
    area = "".join(
        f"<geocode><valueName>{n}</valueName><value>{v}</value></geocode>" for n, v in geocodes
    )
    if polygon is not None:
        area = f"<polygon>{polygon}</polygon>" + area
    params = "".join(
        f"<parameter><valueName>{n}</valueName><value>{v}</value></parameter>"
        for n, v in parameters
    )
    until = f"<expires>{cap_time(expires)}</expires>" if expires else ""
    return (
        f"<info><language>{lang}</language><category>Safety</category><event>Gefahr</event>"
        f"<responseType>{response}</responseType><urgency>Immediate</urgency>"
        f"<severity>{severity}</severity><certainty>Observed</certainty>{until}"
        f"<headline>{headline}</headline><instruction>{instruction}</instruction>{params}"
        f"<area><areaDesc>Zürich Bahnhofstrasse</areaDesc>{area}</area></info>"
    )


def message(
    infos: Sequence[str] = (),
    *,
    identifier: str | None = None,
    msg_type: str = "Alert",
    status: str = "Actual",
    sender: str = SENDER,
    references: Sequence[tuple[str, str, datetime]] = (),
    sent: datetime | None = None,
) -> tuple[bytes, str, datetime]:
    ident = identifier or f"mow.TEST-{uuid.uuid4().hex[:10]}"
    at = sent or datetime.now(UTC).replace(microsecond=0)
    refs = " ".join(f"{s},{i},{cap_time(t)}" for s, i, t in references)
    ref_el = f"<references>{refs}</references>" if references else ""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><alert xmlns="{CAP_NS}">'
        f"<identifier>{ident}</identifier><sender>{sender}</sender><sent>{cap_time(at)}</sent>"
        f"<status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>"
        f"{ref_el}{''.join(infos)}</alert>"
    )
    return body.encode(), ident, at


def post_cap(service: LiveService, body: bytes, status: int = 201) -> dict[str, Any]:
    response = service.http.post(
        "/cap", content=body, headers={"Content-Type": "application/cap+xml"}
    )
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def cap_service(
    inventory: Database,
    mosquitto: MosquittoProcess,
    topic_root: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveService]:
    """The live service with a CAP policy: MoWaS's sender plays at once, others are suggested."""
    settings = make_settings(
        tmp_path, mosquitto.url, topic_root, cap_sources=POLICY, cap_repeat=3, cap_interval_s=30
    )
    live = LiveService(settings, inventory)
    monkeypatch.setenv("LIGHTCTL_TOKEN", live.token)
    live.start()
    yield live
    live.stop()


def expires_in(minutes: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)


def alert_of(service: LiveService, outcome: dict[str, Any]) -> dict[str, Any]:
    assert outcome["alert_ids"], outcome
    body: dict[str, Any] = service.http.get(f"/alerts/{outcome['alert_ids'][0]}").json()
    return body


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
