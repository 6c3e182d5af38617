"""Values that reach Python's limits and requests that cost too much (issue 13, finding 9): each
a 422 problem+json naming the field (and the limit), nothing stored, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker]

STREET = {"streets": ["Poststrasse"]}
LINE = {"type": "LineString", "coordinates": [[8.53821, 47.37248], [8.5394, 47.36964]]}
STEER = {"target": {"route": {"line": LINE, "width_m": 15}}, "light": {"on": True}}
SURROGATE = "\ud800"  # json.dumps writes it as the escape "\ud800", as an attacker sends it
ZERO_WIDTH = "\u200b\u200b\u200b"

# (path, body, where the answer must point)
CASES: list[tuple[str, dict[str, Any], list[str | int]]] = [
    (
        "/alerts",
        {"target": {"streets": [SURROGATE]}, "messages": {"de": "x"}},
        ["target", "streets", 0],
    ),
    ("/alerts", {"target": STREET, "messages": {"de": SURROGATE}}, ["messages", "de"]),
    ("/alerts", {"target": STREET, "messages": {"de": ZERO_WIDTH}}, ["messages", "de"]),
    (
        "/alerts",
        {"target": STREET, "messages": {"de": "a"}, "expires_in_s": 1e18},
        ["expires_in_s"],
    ),
    (
        "/alerts",
        {"target": STREET, "messages": {"de": "a"}, "expires_in_s": 10**15},
        ["expires_in_s"],
    ),
    ("/alerts", {"target": STREET, "messages": {"de": "a"}, "repeat": 10**30}, ["repeat"]),
    (
        "/alerts",
        {
            "target": {"circle": {"lon": float("nan"), "lat": 47.37, "radius_m": 50}},
            "messages": {"de": "a"},
        },
        ["target", "circle", "lon"],
    ),
    (
        "/steering",
        {**STEER, "ends_in_s": 600, "guidance": {"destination": [float("nan"), 47.37]}},
        ["guidance", "destination", 0],
    ),
    (
        "/steering",
        {**STEER, "ends_in_s": 600, "guidance": {"destination": [8.5, float("inf")]}},
        ["guidance", "destination", 1],
    ),
    ("/steering", {**STEER, "ends_in_s": 1e18}, ["ends_in_s"]),
    ("/steering", {**STEER, "ends_in_s": 10**14}, ["ends_in_s"]),
    ("/steering", {**STEER, "ends_in_s": 600, "label": SURROGATE}, ["label"]),
    ("/targets/preview", {"streets": [SURROGATE]}, ["streets", 0]),
    ("/groups", {"name": ZERO_WIDTH, "lanterns": []}, ["name"]),
]


def _raw(body: dict[str, Any]) -> bytes:
    # allow_nan: Python writes NaN / Infinity, which its own parser (the server's) accepts.
    return json.dumps(body, allow_nan=True).encode()


def test_values_at_pythons_limits_are_422_naming_the_field(service: LiveService) -> None:
    before = {p: len(service.http.get(p).json()) for p in ("/alerts", "/steering", "/groups")}
    for path, body, loc in CASES:
        answer = service.http.post(
            path, content=_raw(body), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, (path, loc, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert [e["loc"] for e in problem["errors"]] == [loc], (path, problem)
    after = {p: len(service.http.get(p).json()) for p in ("/alerts", "/steering", "/groups")}
    assert after == before  # nothing stored


def test_text_with_a_zero_width_character_among_letters_is_text(service: LiveService) -> None:
    sent = service.http.post("/targets/preview", json={"streets": ["Post\u200bstrasse"]})
    assert sent.status_code == 200, sent.text  # not "invisible": the street's name matches
    assert sent.json()["lantern_count"] > 0


def _zigzag(n: int) -> dict[str, Any]:
    coords = [[8.535 + i * 1e-6, 47.370 + (0.002 if i % 2 else 0.0)] for i in range(n)]
    return {"type": "LineString", "coordinates": coords}


def test_a_costly_route_is_refused_before_any_geometry_work(service: LiveService) -> None:
    body = json.dumps({"route": {"line": _zigzag(10_000), "width_m": 50_000}}).encode()
    headers = {"content-type": "application/json"}
    service.http.post("/targets/preview", json=STREET)  # warm: the index is built once
    started = time.perf_counter()
    answer = service.http.post("/targets/preview", content=body, headers=headers)
    took_ms = (time.perf_counter() - started) * 1000
    print(f"10,000-position zigzag route, width 50 km: {answer.status_code} in {took_ms:.0f} ms")
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert error["loc"] == ["route", "line"]
    assert error["limit"] == 5000
    assert "5,000 positions" in error["msg"]
    # ~20-70 ms here over HTTP (printed above); the geometry work took 36.5 s before the ceilings.
    # The bound is loose on purpose: a shared machine must not fail it, the old code always would.
    assert took_ms < 10_000

    steer = {"target": json.loads(body), "light": {"on": True}, "ends_in_s": 600}
    steer["guidance"] = {"direction": "forward"}
    refused = service.http.post("/steering", json=steer)
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["errors"]] == [["target", "route", "line"]]


def test_corridor_area_and_polygon_positions_have_ceilings(service: LiveService) -> None:
    long_line = {"type": "LineString", "coordinates": [[8.40, 47.37], [8.70, 47.37]]}  # ~22.6 km
    wide = service.http.post(
        "/targets/preview", json={"route": {"line": long_line, "width_m": 5000}}
    )
    assert wide.status_code == 422, wide.text
    error = wide.json()["errors"][0]
    assert error["loc"] == ["route"]
    assert error["limit"] == 100
    assert "km²" in error["msg"]

    ring = [[8.53 + 1e-7 * i, 47.37] for i in range(50_000)]
    ring += [[8.54, 47.38], [8.53, 47.37]]
    area = {"type": "Polygon", "coordinates": [ring]}
    answer = service.http.post("/targets/preview", json={"area": area})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["area"]
    assert answer.json()["errors"][0]["limit"] == 50_000
