"""The dispatcher's CLI against a live service and simulated lanterns."""

from __future__ import annotations

import re

import pytest

from firmware_sim import Fleet
from lightctl.cli import app
from tests.integration.conftest import LiveService
from tests.support import cli_runner, flat

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

runner = cli_runner()


def test_send_follows_every_lantern_to_done(service: LiveService, fleet: Fleet) -> None:
    result = runner.invoke(
        app,
        [
            "alert",
            "send",
            "--street",
            "Poststrasse",
            "--lang",
            "de",
            "--text",
            "Achtung, Brand. Fenster schliessen.",
            "--lang",
            "en",
            "--text",
            "Attention, fire. Close windows.",
            "--api",
            service.url,
        ],
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"alert (al_[0-9a-f]+) sent to (\d+) lanterns", flat(result.output))
    assert match, result.output
    alert_id, count = match.group(1), int(match.group(2))
    assert f"done {count}" in flat(result.output)
    status = runner.invoke(app, ["alert", "status", alert_id, "--api", service.url])
    assert status.exit_code == 0, status.output
    assert "completed" in flat(status.output)


def test_send_with_a_template(service: LiveService, fleet: Fleet) -> None:
    result = runner.invoke(
        app,
        [
            "alert",
            "send",
            "--street",
            "Poststrasse",
            "--template",
            "gas_leak",
            "--param",
            "street=Poststrasse",
            "--lang",
            "de",
            "--lang",
            "en",
            "--no-wait",
            "--api",
            service.url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "(de, en)" in flat(result.output)


def test_bad_input_is_a_message_and_exit_code_2(service: LiveService) -> None:
    result = runner.invoke(
        app,
        [
            "alert",
            "send",
            "--street",
            "Bahnhofstrase",
            "--lang",
            "de",
            "--text",
            "x",
            "--api",
            service.url,
        ],
    )
    assert result.exit_code == 2
    assert "target.streets.0" in flat(result.output)
    assert "Bahnhofstrasse" in flat(result.output)  # suggested
    assert "Traceback" not in flat(result.output)
    mismatched = runner.invoke(
        app, ["alert", "send", "--street", "X", "--lang", "de", "--api", service.url]
    )
    assert mismatched.exit_code == 2
    assert "one --text per --lang" in flat(mismatched.output)


def test_service_unreachable_exit_code_3() -> None:
    result = runner.invoke(
        app,
        [
            "alert",
            "send",
            "--street",
            "X",
            "--lang",
            "de",
            "--text",
            "x",
            "--api",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 3
    assert "cannot reach the lightctl API" in flat(result.output)
