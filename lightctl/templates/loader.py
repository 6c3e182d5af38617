"""Reading a directory of ``*.toml`` templates: all of them valid, or a list of what is wrong."""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

from lightctl.templates.document import parse_template
from lightctl.templates.model import REQUIRED_LANGUAGES, Template
from lightctl.templates.problems import TemplateInvalid, TemplateProblem

logger = logging.getLogger(__name__)

# Python 3.11 tomllib puts the position only in the message: "Invalid value (at line 2, column 5)".
_POSITION_RE = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def load_templates(
    directory: Path | str, required_languages: Sequence[str] = REQUIRED_LANGUAGES
) -> dict[str, Template]:
    """Every template in ``directory`` by id; raises ``TemplateInvalid`` listing all problems."""
    templates, problems = _scan(Path(directory), required_languages)
    if problems:
        raise TemplateInvalid(str(directory), problems)
    logger.info("loaded %d warning templates from %s", len(templates), directory)
    return templates


def validate_directory(
    directory: Path | str, required_languages: Sequence[str] = REQUIRED_LANGUAGES
) -> list[TemplateProblem]:
    """Every problem in the templates of ``directory``; empty when ``load_templates`` would pass."""
    return _scan(Path(directory), required_languages)[1]


def _scan(
    directory: Path, required_languages: Sequence[str]
) -> tuple[dict[str, Template], list[TemplateProblem]]:
    if not directory.is_dir():
        return {}, [TemplateProblem(str(directory), "", "not a directory")]
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        return {}, [TemplateProblem(str(directory), "", "no *.toml template files")]
    templates: dict[str, Template] = {}
    origin: dict[str, str] = {}
    problems: list[TemplateProblem] = []
    for path in paths:
        template, found = _read(path, required_languages)
        problems.extend(found)
        if template is None:
            continue
        if template.id in templates:
            problems.append(
                TemplateProblem(
                    path.name,
                    "id",
                    f"duplicate template id {template.id!r} (also in {origin[template.id]})",
                )
            )
            continue
        templates[template.id] = template
        origin[template.id] = path.name
    return templates, problems


def _read(
    path: Path, required_languages: Sequence[str]
) -> tuple[Template | None, list[TemplateProblem]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [TemplateProblem(path.name, "", f"cannot be read: {exc.strerror}")]
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, [TemplateProblem(path.name, "", f"not UTF-8 text (byte {exc.start})")]
    except tomllib.TOMLDecodeError as exc:
        return None, [_syntax_problem(path.name, exc)]
    return parse_template(doc, path.name, required_languages)


def _syntax_problem(file: str, exc: tomllib.TOMLDecodeError) -> TemplateProblem:
    text = str(exc)
    match = _POSITION_RE.match(text)
    if match is None:
        return TemplateProblem(file, "", f"TOML syntax error: {text}")
    return TemplateProblem(
        file,
        "",
        f"TOML syntax error: {match['msg']}",
        line=int(match["line"]),
        column=int(match["column"]),
    )
