"""Filling a template's placeholders: every bad parameter is refused and named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lightctl.errors import InvalidRequest
from lightctl.templates import MAX_PARAM_CHARS, Placeholder, Template, render
from tests.support import fixed_env


def _template() -> Template:
    street = Placeholder("street", {"de": "Straße", "en": "Street"}, "Seestrasse")
    point = Placeholder("meeting_point", {"de": "Sammelstelle", "en": "Meeting point"}, "Park")
    return Template(
        id="evacuation",
        title={"de": "Evakuierung", "en": "Evacuation"},
        severity="extreme",
        signal="warning",
        default_languages=("de", "en"),
        placeholders=(street, point),
        text={
            "de": "Verlassen Sie {street}. Gehen Sie zu {meeting_point}.",
            "en": "Leave {street}. Go to {meeting_point}.",
        },
        projection_text={"de": "RÄUMUNG", "en": "EVACUATE"},
    )


def _problems(exc: pytest.ExceptionInfo[InvalidRequest]) -> dict[tuple[str | int, ...], str]:
    return {p.loc: p.msg for p in exc.value.problems}


def test_fills_every_placeholder() -> None:
    params = {"street": "Bahnhofstrasse", "meeting_point": "Schulhaus Hirschengraben"}
    assert render(_template(), "en", params) == (
        "Leave Bahnhofstrasse. Go to Schulhaus Hirschengraben."
    )


def test_strips_surrounding_white_space() -> None:
    spoken = render(_template(), "de", {"street": "  Seestrasse ", "meeting_point": "Park"})
    assert spoken == "Verlassen Sie Seestrasse. Gehen Sie zu Park."


def test_braces_in_a_value_stay_literal() -> None:
    spoken = render(_template(), "en", {"street": "{meeting_point}", "meeting_point": "Park"})
    assert spoken == "Leave {meeting_point}. Go to Park."


def test_missing_param_is_named() -> None:
    with pytest.raises(InvalidRequest) as exc:
        render(_template(), "en", {"street": "Seestrasse"})
    assert _problems(exc) == {
        ("params", "meeting_point"): "missing: template 'evacuation' needs it"
    }
    assert str(exc.value).startswith("params.meeting_point: missing")


def test_unknown_param_is_named_with_a_suggestion() -> None:
    with pytest.raises(InvalidRequest) as exc:
        render(_template(), "en", {"street": "A", "meeting_point": "B", "meeting_place": "C"})
    (problem,) = exc.value.problems
    assert problem.loc == ("params", "meeting_place")
    assert "unknown placeholder" in problem.msg
    assert problem.suggestions == ("meeting_point",)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(InvalidRequest) as exc:
        render(_template(), "en", {"street": "x" * (MAX_PARAM_CHARS + 1), "strete": "A"})
    assert set(_problems(exc)) == {
        ("params", "street"),
        ("params", "meeting_point"),
        ("params", "strete"),
    }


def test_value_of_maximum_length_is_accepted() -> None:
    longest = "x" * MAX_PARAM_CHARS
    assert longest in render(_template(), "en", {"street": longest, "meeting_point": "Park"})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x" * (MAX_PARAM_CHARS + 1), "at most 120 characters"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("Seestrasse\nnow run", "control characters"),
        ("Seestrasse\x00", "control characters"),
        ("See\u2028strasse", "control characters"),
        ("See\tstrasse", "control characters"),
        (42, "must be text"),
        (None, "must be text"),
    ],
    ids=["too-long", "empty", "blank", "newline", "nul", "line-separator", "tab", "int", "none"],
)
def test_bad_values_are_refused(value: object, reason: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        render(_template(), "en", {"street": value, "meeting_point": "Park"})
    (problem,) = exc.value.problems
    assert problem.loc == ("params", "street")
    assert reason in problem.msg


def test_language_without_text_is_refused() -> None:
    with pytest.raises(InvalidRequest) as exc:
        render(_template(), "tr", {"street": "A", "meeting_point": "B"})
    (problem,) = exc.value.problems
    assert problem.loc == ("languages",)
    assert problem.value == "tr"
    assert problem.suggestions == ("de", "en")


def test_template_is_immutable() -> None:
    template = _template()
    with pytest.raises(TypeError):
        template.text["de"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        template.id = "other"  # type: ignore[misc]


def test_summary_is_what_the_api_lists() -> None:
    assert _template().summary() == {
        "id": "evacuation",
        "title": {"de": "Evakuierung", "en": "Evacuation"},
        "severity": "extreme",
        "signal": "warning",
        "languages": ["de", "en"],
        "default_languages": ["de", "en"],
        "placeholders": [
            {
                "name": "street",
                "description": {"de": "Straße", "en": "Street"},
                "example": "Seestrasse",
            },
            {
                "name": "meeting_point",
                "description": {"de": "Sammelstelle", "en": "Meeting point"},
                "example": "Park",
            },
        ],
    }


def test_package_imports_nothing_heavy() -> None:
    heavy = ("fastapi", "sqlmodel", "sqlalchemy", "paho", "pydantic", "gtts", "shapely", "pyproj")
    code = (
        f"import sys, lightctl.templates\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        encoding="utf-8",
        env=fixed_env(),
        check=True,
    )
    assert out.stdout.strip() == ""
