"""What the audit keeps of a body: secrets redacted by name, nesting cut, CSV cells as text."""

from __future__ import annotations

import sys

import pytest

from lightctl.api.middleware import _nests_deeper
from lightctl.services.audit import CUT, scrub, secret_name, spreadsheet_safe


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "passwd",
        "newPassword",
        "api-key",
        "API_KEY",
        "client_secret",
        "token",
        "access_token",
        "dbpassword",
        "Authorization",
        "privateKey",
        "pwd",
    ],
)
def test_secret_looking_names_are_found(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize("name", ["name", "messages", "target", "bypass", "keys", "lanterns"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert not secret_name(name)


def test_scrub_redacts_at_any_depth_and_cuts_deep_nesting() -> None:
    value = {"user": "erika", "passwd": "x", "nested": [{"apiKey": "y", "n": 1}]}
    assert scrub(value) == {"user": "erika", "passwd": "***", "nested": [{"apiKey": "***", "n": 1}]}
    deep: object = "end"
    for _ in range(sys.getrecursionlimit() * 2):  # deeper than any recursive walk survives
        deep = [deep]
    cut = scrub({"d": deep}, max_depth=4)
    assert cut == {"d": [[[CUT]]]}


def test_formula_prefixes_are_neutralised() -> None:
    for cell in ("=cmd|calc!A0", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("al_123") == "al_123"
    assert spreadsheet_safe(7) == 7


def test_nesting_is_measured_without_parsing_and_strings_do_not_count() -> None:
    assert _nests_deeper(b"[" * 65 + b"]" * 65, 64)
    assert not _nests_deeper(b"[" * 64 + b"]" * 64, 64)
    assert not _nests_deeper(b'{"a": "' + b"[" * 500 + b'\\" ["}', 64)
