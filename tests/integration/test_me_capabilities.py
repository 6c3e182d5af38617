"""GET /auth/me tells the console what the caller may do, from the one permissions table."""

from __future__ import annotations

import pytest

from lightctl.api.capabilities import CAPABILITIES
from lightctl.api.permissions import lookup
from lightctl.settings import Settings
from tests.integration.conftest import LiveService

pytestmark = [pytest.mark.broker]


def test_every_capability_names_a_listed_route() -> None:
    for name, (method, path) in CAPABILITIES.items():
        assert lookup(method, path) is not None, name


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("viewer", []),
        ("dispatcher", ["alert", "approve", "audit", "metrics", "steer"]),
        ("operator", ["audit", "groups", "import", "metrics", "schedules", "simulate", "steer"]),
        ("feed", ["alert"]),
    ],
)
def test_me_lists_the_capabilities_of_the_roles(
    service: LiveService, roles: str, expected: list[str]
) -> None:
    token = service.make_token(f"me-{roles}", roles)
    me = service.http.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["roles"] == [roles]
    assert me.json()["capabilities"] == expected
    # ... and they hold: a viewer's POST /alerts is refused, a dispatcher's is not refused by role
    alert = service.http.post(
        "/alerts",
        json={"target": {"streets": ["Poststrasse"]}, "messages": {"de": "x", "en": "x"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (alert.status_code != 403) == ("alert" in expected), alert.text


def test_console_settings_serve_the_city_languages(service: LiveService) -> None:
    body = service.http.get("/console/settings").json()
    assert body == {"city_languages": ["de", "en"]}
    with pytest.raises(ValueError, match="city_languages: xx"):
        Settings(city_languages=("de", "xx"))
