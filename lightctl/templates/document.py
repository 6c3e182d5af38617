"""The schema of one template file: a parsed TOML document becomes a Template or problems."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from lightctl.templates.model import SEVERITIES, SIGNALS, Placeholder, Template
from lightctl.templates.placeholders import (
    FORBIDDEN_CATEGORIES,
    NAME_RE,
    fields_in,
    value_problem,
)
from lightctl.templates.problems import TemplateProblem

FIELDS = (
    "id",
    "title",
    "severity",
    "signal",
    "default_languages",
    "placeholders",
    "text",
    "projection_text",
)
PLACEHOLDER_FIELDS = ("name", "description", "example")
TITLE_LANGUAGES = ("de", "en")  # the console shows one of these

ID_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
# A BCP 47-like tag: primary language in lower case, optional subtags ("de", "de-LS", "pt-BR").
LANG_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
URL_RE = re.compile(r"https?://|www\.", re.IGNORECASE)

# Three short sentences are about 250 characters; 400 leaves room for Leichte Sprache and long
# languages. At ~15 characters a second, 400 characters already take ~27 s to speak, per language.
MAX_TEXT_CHARS = 400
# About 20 characters stay legible when a lantern head 4-5 m up projects them onto the pavement
# (the wire allows 64, which is for free text, not templates).
MAX_PROJECTION_CHARS = 20
MAX_TITLE_CHARS = 80
MAX_DESCRIPTION_CHARS = 200

_T = TypeVar("_T", bound=str)


class _Findings:
    """Problems found in one file, each tied to a dotted key."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[TemplateProblem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(TemplateProblem(self.file, key, message))


def parse_template(
    doc: Mapping[str, Any], file: str, required_languages: Sequence[str]
) -> tuple[Template | None, list[TemplateProblem]]:
    """The Template a TOML document describes, or None and every problem found in it."""
    found = _Findings(file)
    _check_keys(found, doc, FIELDS, prefix="")
    template_id = _template_id(found, doc.get("id"))
    title = _language_table(found, "title", doc.get("title"), TITLE_LANGUAGES, MAX_TITLE_CHARS)
    severity = _choice(found, "severity", doc.get("severity"), SEVERITIES)
    signal = _choice(found, "signal", doc.get("signal"), SIGNALS)
    placeholders, declared = _placeholders(found, doc.get("placeholders"))
    text = _texts(found, doc.get("text"), required_languages, declared)
    # Languages the file gives a text for, even a faulty one, so one defect is reported once.
    text_languages = _tags(doc.get("text"))
    projection = _projection(found, doc.get("projection_text"), required_languages, text_languages)
    default_languages = _default_languages(found, doc.get("default_languages"), text_languages)
    if found.problems or template_id is None or severity is None or signal is None:
        return None, found.problems
    template = Template(
        id=template_id,
        title=title,
        severity=severity,
        signal=signal,
        default_languages=default_languages,
        placeholders=placeholders,
        text=text,
        projection_text=projection,
    )
    return template, []


def _check_keys(
    found: _Findings, table: Mapping[str, Any], allowed: Sequence[str], prefix: str
) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(allowed)}"
            found.add(prefix + key, f"unknown key ({hint})")
    for key in allowed:
        if key not in table:
            found.add(prefix + key, "missing")


def _template_id(found: _Findings, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        found.add("id", f"must be a lower-case name like fire_smoke (got {value!r})")
        return None
    return value


def _choice(found: _Findings, key: str, value: Any, allowed: Sequence[_T]) -> _T | None:
    if value is None:
        return None
    for option in allowed:
        if value == option:
            return option
    found.add(key, f"must be one of {', '.join(allowed)} (got {value!r})")
    return None


def _tags(table: Any) -> list[str]:
    """The well-formed language tags among the keys of a language table."""
    if not isinstance(table, dict):
        return []
    return [lang for lang in table if LANG_RE.fullmatch(lang)]


def _line_problem(value: str) -> str | None:
    """Why a text cannot be one spoken or shown line, or None."""
    if not value.strip():
        return "empty"
    if value != value.strip():
        return "leading or trailing white space"
    if any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in value):
        return "contains a line break or control character (keep it on one line)"
    return None


def _language_table(
    found: _Findings, key: str, value: Any, required: Iterable[str], max_chars: int
) -> dict[str, str]:
    """A ``[key]`` table of language -> one line of text; reports bad and missing languages."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        found.add(key, "must be a table of language = text")
        return {}
    out: dict[str, str] = {}
    for lang, line in value.items():
        where = f"{key}.{lang}"
        if not LANG_RE.fullmatch(lang):
            found.add(where, "not a language tag (like de, en, de-LS)")
        elif not isinstance(line, str):
            found.add(where, "must be a string")
        elif (reason := _line_problem(line)) is not None:
            found.add(where, reason)
        elif len(line) > max_chars:
            found.add(where, f"too long: {len(line)} characters, at most {max_chars}")
        else:
            out[lang] = line
    for lang in required:
        if lang not in value:
            found.add(f"{key}.{lang}", "missing language")
    return out


def _placeholders(found: _Findings, value: Any) -> tuple[tuple[Placeholder, ...], list[str] | None]:
    """Valid placeholders, and every declared name (None when the list itself is unreadable)."""
    if value is None:
        return (), None
    if not isinstance(value, list):
        found.add("placeholders", "must be a list of [[placeholders]] tables (or [] for none)")
        return (), None
    placeholders: list[Placeholder] = []
    declared: list[str] = []
    for index, entry in enumerate(value):
        prefix = f"placeholders[{index}]"
        if not isinstance(entry, dict):
            found.add(prefix, "must be a table with name, description and example")
            continue
        before = len(found.problems)
        _check_keys(found, entry, PLACEHOLDER_FIELDS, prefix=prefix + ".")
        name = entry.get("name")
        if name is not None:
            if not isinstance(name, str) or not NAME_RE.fullmatch(name):
                found.add(f"{prefix}.name", f"must be a lower-case name like street (got {name!r})")
                name = None
            elif name in declared:
                found.add(f"{prefix}.name", f"duplicate placeholder {{{name}}}")
            else:
                declared.append(name)
        description = _language_table(
            found,
            f"{prefix}.description",
            entry.get("description"),
            TITLE_LANGUAGES,
            MAX_DESCRIPTION_CHARS,
        )
        example = entry.get("example")
        if example is not None and (reason := value_problem(example)) is not None:
            found.add(f"{prefix}.example", reason)
        if len(found.problems) == before and isinstance(name, str) and isinstance(example, str):
            placeholders.append(Placeholder(name, description, example))
    return tuple(placeholders), declared


def _texts(
    found: _Findings, value: Any, required: Sequence[str], declared: list[str] | None
) -> dict[str, str]:
    texts = _language_table(found, "text", value, required, MAX_TEXT_CHARS)
    for lang, line in texts.items():
        where = f"text.{lang}"
        if URL_RE.search(line):
            found.add(where, "contains a web address; texts are spoken aloud")
        try:
            used = fields_in(line)
        except ValueError as exc:
            found.add(where, str(exc))
            continue
        if declared is None:
            continue  # the placeholder list is missing or broken: already reported
        for name in dict.fromkeys(used):
            if name not in declared:
                found.add(where, f"placeholder {{{name}}} not declared")
        for name in declared:
            if name not in used:
                found.add(where, f"declared placeholder {{{name}}} missing")
    return texts


def _projection(
    found: _Findings, value: Any, required: Sequence[str], text_languages: Sequence[str]
) -> dict[str, str]:
    languages = list(dict.fromkeys([*required, *text_languages]))
    out = _language_table(found, "projection_text", value, languages, MAX_PROJECTION_CHARS)
    for lang, line in out.items():
        if "{" in line or "}" in line:
            found.add(f"projection_text.{lang}", "takes no placeholders or braces")
        elif lang not in languages:
            found.add(f"projection_text.{lang}", "no text in this language")
    return out


def _default_languages(
    found: _Findings, value: Any, text_languages: Sequence[str]
) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        found.add("default_languages", 'must be a non-empty list like ["de", "en"]')
        return ()
    out: list[str] = []
    for index, lang in enumerate(value):
        where = f"default_languages[{index}]"
        if not isinstance(lang, str):
            found.add(where, "must be a string")
        elif lang in out:
            found.add(where, f"duplicate language {lang!r}")
        elif lang not in text_languages:
            found.add(where, f"no text in language {lang!r}")
        else:
            out.append(lang)
    return tuple(out)
