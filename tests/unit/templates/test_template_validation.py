"""Broken template files are refused, and every problem names the file and the key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lightctl.templates import TemplateInvalid, load_templates, validate_directory

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "templates"


def _set(source: str, section: str, key: str, line: str | None) -> str:
    """Replace, delete (``line=None``) or add the ``key = ...`` line of ``[section]`` ("" = top)."""
    lines = source.splitlines()
    current = ""
    header_at = -1 if section == "" else None
    for index, text in enumerate(lines):
        if text.startswith("["):
            current = text.strip("[] ")
            if current == section:
                header_at = index
            continue
        if current == section and text.startswith(f"{key} = "):
            if line is None:
                del lines[index]
            else:
                lines[index] = line
            return "\n".join(lines) + "\n"
    assert header_at is not None, f"no [{section}]"
    assert line is not None, f"no {key} in [{section}]"
    lines.insert(header_at + 1, line)
    return "\n".join(lines) + "\n"


def _shipped(name: str) -> str:
    return (SHIPPED / name).read_text(encoding="utf-8")


def _problems(directory: Path) -> list[str]:
    return [str(p) for p in validate_directory(directory)]


LONG_EN = 'en = "Leave {street}. Go to {meeting_point}.' + " Really now." * 33 + '"'
Edit = Callable[[str], str]
CASES: list[tuple[str, str, Edit, list[str]]] = [
    (
        "missing-language",
        "evacuation.toml",
        lambda s: _set(s, "text", "ru", None),
        ["evacuation.toml: text.ru: missing language"],
    ),
    (
        "missing-default-language",
        "evacuation.toml",
        lambda s: _set(s, "text", "tr", None),
        [
            "evacuation.toml: text.tr: missing language",
            "evacuation.toml: default_languages[2]: no text in language 'tr'",
        ],
    ),
    (
        "undeclared-placeholder",
        "evacuation.toml",
        lambda s: _set(s, "text", "en", 'en = "Leave {street}. Go to {meeting_place}."'),
        [
            "evacuation.toml: text.en: placeholder {meeting_place} not declared",
            "evacuation.toml: text.en: declared placeholder {meeting_point} missing",
        ],
    ),
    (
        "declared-placeholder-missing",
        "evacuation.toml",
        lambda s: _set(s, "text", "fr", 'fr = "Allez au point de rassemblement {meeting_point}."'),
        ["evacuation.toml: text.fr: declared placeholder {street} missing"],
    ),
    (
        "format-spec",
        "evacuation.toml",
        lambda s: _set(
            s, "text", "de", 'de = "Verlassen Sie {street:>9}. Gehen Sie zu {meeting_point}."'
        ),
        ["evacuation.toml: text.de: placeholder {street} must be written plainly, without ! or :"],
    ),
    (
        "empty-placeholder",
        "evacuation.toml",
        lambda s: _set(s, "text", "de", 'de = "Verlassen Sie {}. Gehen Sie zu {meeting_point}."'),
        ["evacuation.toml: text.de: empty placeholder {}; write {name}"],
    ),
    (
        "unbalanced-brace",
        "evacuation.toml",
        lambda s: _set(
            s, "text", "de", 'de = "Verlassen Sie {street}. Gehen Sie zu {meeting_point."'
        ),
        [
            (
                "evacuation.toml: text.de: unbalanced brace (expected '}' before end of string); "
                "write {{ or }} for a literal one"
            )
        ],
    ),
    (
        "web-address",
        "evacuation.toml",
        lambda s: _set(
            s, "text", "en", 'en = "Leave {street}. Go to {meeting_point}. See www.example.org"'
        ),
        ["evacuation.toml: text.en: contains a web address; texts are spoken aloud"],
    ),
    (
        "line-break",
        "evacuation.toml",
        lambda s: _set(
            s, "text", "de", r'de = "Verlassen Sie {street}.\nGehen Sie zu {meeting_point}."'
        ),
        [
            (
                "evacuation.toml: text.de: contains a line break or control character "
                "(keep it on one line)"
            )
        ],
    ),
    (
        "empty-text",
        "evacuation.toml",
        lambda s: _set(s, "text", "pl", 'pl = " "'),
        ["evacuation.toml: text.pl: empty"],
    ),
    (
        "text-too-long",
        "evacuation.toml",
        lambda s: _set(s, "text", "en", LONG_EN),
        ["evacuation.toml: text.en: too long: 434 characters, at most 400"],
    ),
    (
        "text-not-a-string",
        "evacuation.toml",
        lambda s: _set(s, "text", "ru", "ru = 5"),
        ["evacuation.toml: text.ru: must be a string"],
    ),
    (
        "bad-language-tag",
        "evacuation.toml",
        lambda s: _set(s, "text", "EN", 'EN = "Leave {street}. Go to {meeting_point}."'),
        ["evacuation.toml: text.EN: not a language tag (like de, en, de-LS)"],
    ),
    (
        "extra-language-without-projection",
        "evacuation.toml",
        lambda s: _set(s, "text", "es", 'es = "Salgan de {street}. Vayan a {meeting_point}."'),
        ["evacuation.toml: projection_text.es: missing language"],
    ),
    (
        "projection-without-text",
        "evacuation.toml",
        lambda s: _set(s, "projection_text", "es", 'es = "EVACUAR"'),
        ["evacuation.toml: projection_text.es: no text in this language"],
    ),
    (
        "projection-too-long",
        "evacuation.toml",
        lambda s: _set(s, "projection_text", "en", 'en = "EVACUATE IMMEDIATELY NOW"'),
        ["evacuation.toml: projection_text.en: too long: 24 characters, at most 20"],
    ),
    (
        "projection-placeholder",
        "evacuation.toml",
        lambda s: _set(s, "projection_text", "en", 'en = "LEAVE {street}"'),
        ["evacuation.toml: projection_text.en: takes no placeholders or braces"],
    ),
    (
        "unknown-top-level-key",
        "evacuation.toml",
        lambda s: s.replace('severity = "extreme"', 'severty = "extreme"'),
        [
            "evacuation.toml: severty: unknown key (did you mean 'severity'?)",
            "evacuation.toml: severity: missing",
        ],
    ),
    (
        "missing-key",
        "evacuation.toml",
        lambda s: _set(s, "", "signal", None),
        ["evacuation.toml: signal: missing"],
    ),
    (
        "unknown-placeholder-key",
        "evacuation.toml",
        lambda s: s.replace('name = "street"', 'name = "street"\nhint = "x"'),
        [
            (
                "evacuation.toml: placeholders[0].hint: unknown key "
                "(expected name, description, example)"
            )
        ],
    ),
    (
        "placeholder-without-description",
        "evacuation.toml",
        lambda s: s.replace(
            'description.de = "Straße oder Platz, so wie man ihn vor Ort ausspricht"\n', ""
        ).replace('description.en = "Street or square, as people there say its name"\n', ""),
        ["evacuation.toml: placeholders[0].description: missing"],
    ),
    (
        "example-too-long",
        "evacuation.toml",
        lambda s: s.replace('example = "Bahnhofstrasse"', 'example = "' + "x" * 121 + '"'),
        ["evacuation.toml: placeholders[0].example: must be at most 120 characters (got 121)"],
    ),
    (
        "placeholders-not-a-list",
        "fire_smoke.toml",
        lambda s: _set(s, "", "placeholders", 'placeholders = "none"'),
        [
            (
                "fire_smoke.toml: placeholders: must be a list of [[placeholders]] tables "
                "(or [] for none)"
            )
        ],
    ),
    (
        "bad-severity",
        "evacuation.toml",
        lambda s: _set(s, "", "severity", 'severity = "high"'),
        ["evacuation.toml: severity: must be one of extreme, severe, moderate, minor (got 'high')"],
    ),
    (
        "bad-signal",
        "evacuation.toml",
        lambda s: _set(s, "", "signal", 'signal = "siren"'),
        ["evacuation.toml: signal: must be one of warning, all_clear, none (got 'siren')"],
    ),
    (
        "bad-id",
        "evacuation.toml",
        lambda s: _set(s, "", "id", 'id = "Evacuation!"'),
        ["evacuation.toml: id: must be a lower-case name like fire_smoke (got 'Evacuation!')"],
    ),
    (
        "title-missing-language",
        "evacuation.toml",
        lambda s: _set(s, "title", "en", None),
        ["evacuation.toml: title.en: missing language"],
    ),
    (
        "default-language-without-text",
        "evacuation.toml",
        lambda s: _set(s, "", "default_languages", 'default_languages = ["de", "xx"]'),
        ["evacuation.toml: default_languages[1]: no text in language 'xx'"],
    ),
    (
        "default-language-twice",
        "evacuation.toml",
        lambda s: _set(s, "", "default_languages", 'default_languages = ["de", "en", "de"]'),
        ["evacuation.toml: default_languages[2]: duplicate language 'de'"],
    ),
    (
        "no-default-language",
        "evacuation.toml",
        lambda s: _set(s, "", "default_languages", "default_languages = []"),
        ['evacuation.toml: default_languages: must be a non-empty list like ["de", "en"]'],
    ),
]


@pytest.mark.parametrize(
    ("base", "edit", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_problem_names_file_and_key(
    tmp_path: Path, base: str, edit: Edit, expected: list[str]
) -> None:
    (tmp_path / base).write_text(edit(_shipped(base)), encoding="utf-8")
    assert _problems(tmp_path) == expected


def test_unedited_copy_is_valid(tmp_path: Path) -> None:
    """The edits above start from a valid file, so each problem comes from its edit alone."""
    shutil.copy(SHIPPED / "evacuation.toml", tmp_path)
    shutil.copy(SHIPPED / "fire_smoke.toml", tmp_path)
    assert _problems(tmp_path) == []


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    source = _shipped("evacuation.toml")
    line = source.splitlines().index('severity = "extreme"') + 1
    (tmp_path / "evacuation.toml").write_text(source.replace('"extreme"', "extreme"), "utf-8")
    (problem,) = validate_directory(tmp_path)
    assert (problem.file, problem.key, problem.line, problem.column) == (
        "evacuation.toml",
        "",
        line,
        12,
    )
    assert str(problem) == (
        f"evacuation.toml: line {line}, column 12: TOML syntax error: Invalid value"
    )


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes('id = "hitze"\n# Straße\n'.encode("latin-1"))
    assert _problems(tmp_path) == ["latin1.toml: not UTF-8 text (byte 19)"]


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    shutil.copy(SHIPPED / "evacuation.toml", tmp_path / "evacuation.toml")
    shutil.copy(SHIPPED / "evacuation.toml", tmp_path / "evacuation_copy.toml")
    assert _problems(tmp_path) == [
        "evacuation_copy.toml: id: duplicate template id 'evacuation' (also in evacuation.toml)"
    ]


def test_duplicate_placeholder_name(tmp_path: Path) -> None:
    source = _shipped("evacuation.toml").replace('name = "meeting_point"', 'name = "street"')
    (tmp_path / "evacuation.toml").write_text(source, encoding="utf-8")
    problems = _problems(tmp_path)
    assert problems[0] == "evacuation.toml: placeholders[1].name: duplicate placeholder {street}"
    # Every text still uses {meeting_point}, which is now undeclared: each language says so.
    assert len(problems) == 1 + 9


def test_empty_directory_and_missing_directory(tmp_path: Path) -> None:
    assert _problems(tmp_path) == [f"{tmp_path}: no *.toml template files"]
    assert _problems(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: not a directory"]


def test_load_refuses_the_directory_listing_every_problem(tmp_path: Path) -> None:
    shutil.copy(SHIPPED / "heat.toml", tmp_path)
    (tmp_path / "evacuation.toml").write_text(
        _set(_shipped("evacuation.toml"), "text", "ru", None), encoding="utf-8"
    )
    (tmp_path / "fire_smoke.toml").write_text(
        _set(_shipped("fire_smoke.toml"), "", "signal", 'signal = "loud"'), encoding="utf-8"
    )
    with pytest.raises(TemplateInvalid) as exc:
        load_templates(tmp_path)
    assert [str(p) for p in exc.value.problems] == [
        "evacuation.toml: text.ru: missing language",
        "fire_smoke.toml: signal: must be one of warning, all_clear, none (got 'loud')",
    ]
    assert exc.value.code == "template_invalid"
    assert "2 problems" in exc.value.message
    assert "evacuation.toml: text.ru: missing language" in exc.value.message


def test_extra_languages_and_fewer_required_languages(tmp_path: Path) -> None:
    source = _set(_shipped("heat.toml"), "text", "es", 'es = "Aviso de calor. Beban agua."')
    source = _set(source, "projection_text", "es", 'es = "CALOR"')
    (tmp_path / "heat.toml").write_text(source, encoding="utf-8")
    heat = load_templates(tmp_path)["heat"]
    assert "es" in heat.languages
    assert heat.projection_text["es"] == "CALOR"

    only_two = _set(_shipped("test.toml"), "", "default_languages", 'default_languages = ["de"]')
    for lang in ("de-LS", "tr", "ar", "uk", "ru", "pl", "fr"):
        only_two = _set(_set(only_two, "text", lang, None), "projection_text", lang, None)
    (tmp_path / "heat.toml").unlink()
    (tmp_path / "test.toml").write_text(only_two, encoding="utf-8")
    assert _problems(tmp_path)[0] == "test.toml: text.de-LS: missing language"
    assert load_templates(tmp_path, required_languages=("de", "en"))["test"].languages == (
        "de",
        "en",
    )
