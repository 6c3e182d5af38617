"""What the console's browser tests do on a page: sign-in data, clicks on the map, waiting for
texts. Plain functions over Playwright's sync page (typed Any: Playwright is a test extra)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from lightctl.services.access.auth import AuthService
from tests.integration.conftest import LiveService

PASSWORD = "e2e-" + uuid.uuid4().hex
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}  # a 10.9" tablet held upright


def make_user(service: LiveService, roles: str) -> str:
    """A console user with PASSWORD and these roles (comma-separated)."""
    name = f"e2e-{roles.replace(',', '-')}-{uuid.uuid4().hex[:6]}"
    AuthService(service.runtime.db, lambda: datetime.now(UTC)).create_user(name, PASSWORD, roles)
    return name


def end_sessions(service: LiveService, username: str) -> None:
    """Revoke the user's console sessions, as an expiry or an administrator would."""
    auth = AuthService(service.runtime.db, lambda: datetime.now(UTC))
    for token in auth.list_tokens(include_sessions=True):
        if token.kind == "session" and token.username == username and token.revoked_at is None:
            auth.revoke_token(token.id)


def busiest_street(service: LiveService) -> tuple[str, int]:
    streets = service.http.get("/streets").json()
    best = max(streets, key=lambda s: s["lantern_count"])
    return best["name"], best["lantern_count"]


def click_street(page: Any, name: str) -> None:
    """Click the street where it is drawn on the map, as a dispatcher would."""
    point = page.evaluate("name => window.lightctl.map.pointOnStreet(name)", name)
    assert point is not None, f"{name} is not drawn on the map"
    click_map(page, point)


def click_map(page: Any, point: dict[str, float]) -> None:
    """Click the map at a point given in map-container pixels."""
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def click_lantern(page: Any, lantern_id: str, zoom: int = 20) -> None:
    """Zoom to the lantern and click its marker."""
    point = page.evaluate(
        """([id, zoom]) => {
          const cmap = window.lightctl.map;
          const l = cmap.live.get(id);
          cmap.map.setView([l.lat, l.lon], zoom, {animate: false});
          return cmap.map.latLngToContainerPoint([l.lat, l.lon]);
        }""",
        [lantern_id, zoom],
    )
    click_map(page, point)


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def wait_text(page: Any, selector: str, expected: str, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
        arg=[selector, expected],
        timeout=timeout_ms,
    )


def hit(page: Any, selector: str, gesture: str) -> None:
    """Hit a button the way a dispatcher under stress does: ``double`` or ``triple`` click, or
    ``enter`` held down (one press, then the keyboard's repeats)."""
    if gesture == "double":
        page.dblclick(selector)
    elif gesture == "triple":
        page.click(selector, click_count=3)
    else:
        page.focus(selector)
        page.keyboard.down("Enter")
        for _ in range(6):
            page.keyboard.down("Enter")
        page.keyboard.up("Enter")
