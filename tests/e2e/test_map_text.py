"""Text from the inventory shows as text on the map (issue 13, finding 9): a street whose name
is HTML gets a tooltip that reads that HTML, and no element of it appears in the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

NAME = '<img src="x" id="pwn"><b id="bold">Bahnhofstrasse</b>'


def test_a_street_name_with_html_shows_as_text(open_console: Callable[..., Any]) -> None:
    page = open_console("dispatcher")
    page.evaluate(
        """name => {
          const map = window.lightctl.map;
          map.setStreets({type: 'FeatureCollection', features: [{
            type: 'Feature',
            properties: {name, class: 'primary'},
            geometry: {type: 'LineString', coordinates: [[8.5390, 47.3700], [8.5400, 47.3710]]},
          }]});
          map.streetLayers.find((l) => l.streetName === name).openTooltip([47.3705, 8.5395]);
        }""",
        NAME,
    )
    tip = page.locator(".street-tip")
    tip.wait_for()
    assert tip.text_content() == NAME
    assert page.locator("#pwn").count() == 0
    assert page.locator("#bold").count() == 0
    label = page.locator(".street-label span", has_text="Bahnhofstrasse</b>")
    assert label.count() == 1  # the map's own label of the street: text as well
