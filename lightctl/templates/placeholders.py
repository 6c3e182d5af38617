"""``{name}`` placeholders: finding them in a text, checking values, and filling them in."""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from collections.abc import Mapping

from lightctl.errors import FieldProblem, InvalidRequest
from lightctl.templates.model import Template

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")

# A street or meeting point fits in 120 characters with room to spare; more is a paste accident,
# and every character is spoken in every language.
MAX_PARAM_CHARS = 120

# Control characters, line/paragraph separators and lone surrogates: a value is one spoken line.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

_FORMATTER = string.Formatter()


def fields_in(text: str) -> list[str]:
    """Placeholder names in ``text`` in order of appearance (repeats kept).

    Raises ``ValueError`` with a readable reason for anything but a plain ``{name}``.
    """
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise ValueError(f"unbalanced brace ({exc}); write {{{{ or }}}} for a literal one") from exc
    names: list[str] = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "":
            raise ValueError("empty placeholder {}; write {name}")
        if not NAME_RE.fullmatch(field):
            raise ValueError(f"placeholder {{{field}}} is not a plain lower-case name")
        if spec or conversion:
            raise ValueError(f"placeholder {{{field}}} must be written plainly, without ! or :")
        names.append(field)
    return names


def value_problem(value: object) -> str | None:
    """Why ``value`` cannot fill a placeholder, or None when it can."""
    if not isinstance(value, str):
        return "must be text"
    stripped = value.strip()
    if not stripped:
        return "must not be empty"
    if len(stripped) > MAX_PARAM_CHARS:
        return f"must be at most {MAX_PARAM_CHARS} characters (got {len(stripped)})"
    if any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in stripped):
        return "must not contain line breaks or control characters"
    return None


def render(template: Template, lang: str, params: Mapping[str, object]) -> str:
    """The template's text in ``lang`` with every placeholder filled from ``params``.

    Raises ``InvalidRequest`` naming each missing, unknown or unacceptable parameter at
    ``("params", name)``, or ``("languages",)`` when the template has no text in ``lang``.
    """
    if lang not in template.text:
        raise InvalidRequest.at(
            ("languages",),
            f"template {template.id!r} has no text in language {lang!r}",
            value=lang,
            suggestions=template.languages,
        )
    declared = template.placeholder_names
    problems: list[FieldProblem] = []
    for name in declared:
        if name not in params:
            problems.append(
                FieldProblem(("params", name), f"missing: template {template.id!r} needs it")
            )
    for name in params:
        if name not in declared:
            expected = ", ".join(declared) if declared else "none"
            problems.append(
                FieldProblem(
                    ("params", name),
                    f"unknown placeholder for template {template.id!r} (expected: {expected})",
                    suggestions=tuple(difflib.get_close_matches(name, declared, n=1)),
                )
            )
    values: dict[str, str] = {}
    for name in declared:
        if name not in params:
            continue
        value = params[name]
        reason = value_problem(value)
        if reason is None and isinstance(value, str):
            values[name] = value.strip()
        else:
            shown = value if isinstance(value, str) else repr(value)
            problems.append(
                FieldProblem(("params", name), reason or "must be text", shown[:MAX_PARAM_CHARS])
            )
    if problems:
        message = "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems)
        raise InvalidRequest(message, problems)
    return template.text[lang].format_map(values)
