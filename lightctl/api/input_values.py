"""Values no field may hold, refused wherever they stand in a JSON body: a lone UTF-16 surrogate
(``"\\ud800"``: Python's JSON parser accepts it, but it is not text and cannot be stored or sent),
NaN and infinities, numbers past what every JSON client reads exactly, and text made only of
invisible characters. ``StrictIn`` runs this once per body, before its fields are validated."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from lightctl.errors import FieldProblem, InvalidRequest, summarise

Loc = tuple[str | int, ...]

# ±(2**53 - 1): the largest integers a JavaScript or other IEEE-754 double client reads exactly;
# no count, duration or coordinate of ours comes near it (a year is 3.2e7 s).
MAX_SAFE_NUMBER = 2**53 - 1
# Enough to fix a body in one go; a body full of bad values is not walked to its end.
MAX_PROBLEMS = 20


def check_values(body: Any) -> None:
    """Raise ``InvalidRequest`` naming every bad value's place (up to ``MAX_PROBLEMS``)."""
    problems: list[FieldProblem] = []
    if isinstance(body, dict | list):
        _walk(body, problems)
    elif (msg := value_problem(body)) is not None:
        problems.append(FieldProblem((), msg))
    if problems:
        problems.sort(key=lambda p: [str(x) for x in p.loc])
        raise InvalidRequest(summarise(problems), problems)


def _walk(body: dict[Any, Any] | list[Any], problems: list[FieldProblem]) -> None:
    # A loop, not recursion: the nesting comes from the request. Places are built only for
    # containers and problems: a 10,000-position route is walked in ~10 ms.
    stack: list[tuple[Loc, dict[Any, Any] | list[Any]]] = [((), body)]
    while stack and len(problems) < MAX_PROBLEMS:
        loc, container = stack.pop()
        items: Any
        if isinstance(container, dict):
            items = container.items()
            for key in container:
                if isinstance(key, str) and (msg := text_problem(key)):
                    problems.append(FieldProblem((*loc, printable(key)), f"the key {msg}"))
        else:
            items = enumerate(container)
        for key, item in items:
            if isinstance(item, dict | list):
                stack.append(((*loc, _place(key)), item))
            elif (msg := value_problem(item)) is not None:
                problems.append(FieldProblem((*loc, _place(key)), msg))


def _place(key: Any) -> str | int:
    return key if isinstance(key, int) else printable(str(key))


def value_problem(value: Any) -> str | None:
    """What is wrong with one JSON scalar, or None."""
    kind = type(value)
    if kind is str:
        return text_problem(value)
    # NaN fails every comparison, so it is caught by the range test too.
    if (kind is float or kind is int) and not -MAX_SAFE_NUMBER <= value <= MAX_SAFE_NUMBER:
        return number_problem(value)
    return None


def text_problem(text: str) -> str | None:
    if text.isprintable():  # the common case: no surrogate, no format character
        return None
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "holds a lone UTF-16 surrogate (such as \\ud800), which is not text"
    if _invisible(text):
        return "holds only invisible characters (such as zero-width spaces)"
    return None


def _invisible(text: str) -> bool:
    """Only format characters (Cf: zero-width space, joiners, direction marks, BOM) and white
    space, with at least one of the former (plain white space is each field's own question)."""
    formats = 0
    for ch in text:
        if unicodedata.category(ch) == "Cf":
            formats += 1
        elif not ch.isspace():
            return False
    return formats > 0


def number_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (NaN and Infinity are not JSON numbers)"
    if abs(value) > MAX_SAFE_NUMBER:
        return f"is too large: numbers must lie within ±{MAX_SAFE_NUMBER:,}"
    return None


def printable(text: str) -> str:
    """``text`` with lone surrogates escaped, so a problem can name the place in JSON."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
