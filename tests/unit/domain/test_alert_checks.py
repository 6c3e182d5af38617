"""Pure checks on alert texts and expiry name the field at fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lightctl.domain.alerts import check_messages, expiry
from lightctl.errors import InvalidRequest

SUPPORTED = ("de", "en", "tr")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def locs(exc: pytest.ExceptionInfo[InvalidRequest]) -> list[tuple[str | int, ...]]:
    return [p.loc for p in exc.value.problems]


def test_order_defaults_to_the_messages_order() -> None:
    assert check_messages({"en": "a", "de": "b"}, (), SUPPORTED, 100) == ("en", "de")
    assert check_messages({"en": "a", "de": "b"}, ("de", "en"), SUPPORTED, 100) == ("de", "en")


def test_every_problem_is_named() -> None:
    with pytest.raises(InvalidRequest) as exc:
        check_messages({"xx": "a", "de": " ", "en": "x" * 101}, ("tr", "de", "de"), SUPPORTED, 100)
    assert set(locs(exc)) == {
        ("messages", "xx"),
        ("messages", "de"),
        ("messages", "en"),
        ("languages", 0),
        ("languages", 2),
    }


def test_no_messages() -> None:
    with pytest.raises(InvalidRequest) as exc:
        check_messages({}, (), SUPPORTED, 100)
    assert locs(exc) == [("messages",)]


def test_expiry_rules() -> None:
    assert expiry(NOW, None, None, 600, 3600) == NOW + timedelta(seconds=600)
    assert expiry(NOW, None, 60, 600, 3600) == NOW + timedelta(seconds=60)
    with pytest.raises(InvalidRequest, match="past"):
        expiry(NOW, NOW - timedelta(seconds=1), None, 600, 3600)
    with pytest.raises(InvalidRequest, match="3600 s ahead"):
        expiry(NOW, None, 7200, 600, 3600)
    with pytest.raises(InvalidRequest, match="not both"):
        expiry(NOW, NOW + timedelta(seconds=60), 60, 600, 3600)
