"""The values no request field may hold, found wherever they stand and named by their place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lightctl.api.input_values import MAX_SAFE_NUMBER, check_values
from lightctl.api.schemas import AlertCreate
from lightctl.errors import InvalidRequest


def _places(body: Any) -> list[list[str | int]]:
    with pytest.raises(InvalidRequest) as caught:
        check_values(body)
    return [list(p.loc) for p in caught.value.problems]


def test_plain_values_pass() -> None:
    check_values(
        {
            "messages": {"de": "Achtung\u200b, Brand", "ar": "\u200fتحذير"},  # marks among letters
            "lon": 8.5,
            "n": MAX_SAFE_NUMBER,
            "flag": True,
            "none": None,
            "list": [[1, 2.5], "x", ""],
            "emoji": "\U0001f525",  # a surrogate pair in UTF-16, one code point here
        }
    )


def test_bad_values_are_named_by_their_place() -> None:
    body = json.loads(
        '{"a": {"b": ["ok", "\\ud800"]}, "\\udc01": 1, "nan": NaN, "inf": [-Infinity],'
        ' "big": 10000000000000000000000, "float": 1e18, "zw": "\\u200b\\u200c \\ufeff"}'
    )
    assert _places(body) == [
        ["\\udc01"],
        ["a", "b", 1],
        ["big"],
        ["float"],
        ["inf", 0],
        ["nan"],
        ["zw"],
    ]


def test_a_very_deep_body_is_walked_without_recursion() -> None:
    body: Any = "\ud800"
    for _ in range(100_000):
        body = [body]
    assert len(_places(body)[0]) == 100_000


def test_the_base_request_schema_refuses_them_once_per_body() -> None:
    with pytest.raises(InvalidRequest) as caught:
        AlertCreate.model_validate(
            {"target": {"streets": ["\ud800"]}, "messages": {"de": "\u200b"}}
        )
    assert [p.loc for p in caught.value.problems] == [("messages", "de"), ("target", "streets", 0)]
    assert "surrogate" in caught.value.problems[1].msg
    assert "invisible" in caught.value.problems[0].msg
