"""Pronunciation lexicon: expands abbreviations and fixes names before a text is synthesised."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from lightctl.errors import ImportFailed


@dataclass(frozen=True, slots=True)
class _Rules:
    pattern: re.Pattern[str] | None
    replacements: dict[str, str]


@dataclass
class Lexicon:
    """Per-language rules; ``apply`` leaves text of a language without rules untouched."""

    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    _compiled: dict[str, _Rules] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a TOML file of ``[lang]`` tables; a broken file names itself and the problem."""
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ImportFailed(str(path), f"pronunciation lexicon unreadable: {exc}") from exc
        rules: dict[str, dict[str, str]] = {}
        for lang, table in doc.items():
            if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in table.items()
            ):
                raise ImportFailed(str(path), f"[{lang}] must map strings to strings")
            rules[lang] = dict(table)
        return cls(rules)

    def apply(self, text: str, lang: str) -> str:
        compiled = self._compiled.get(lang)
        if compiled is None:
            compiled = self._compile(self.rules.get(lang, {}))
            self._compiled[lang] = compiled
        if compiled.pattern is None:
            return text
        return compiled.pattern.sub(lambda m: self._replace(m, compiled), text)

    @staticmethod
    def _replace(match: re.Match[str], rules: _Rules) -> str:
        stem = match.group("stem")
        if stem is not None:  # a word ending such as "Bahnhof|str."
            return stem + rules.replacements["-" + match.group("suffix")]
        return rules.replacements[match.group("word")]

    @staticmethod
    def _compile(table: dict[str, str]) -> _Rules:
        if not table:
            return _Rules(None, {})
        # Longest keys first so "z. B." wins over "B.".
        words = sorted((k for k in table if not k.startswith("-")), key=len, reverse=True)
        suffixes = sorted((k[1:] for k in table if k.startswith("-")), key=len, reverse=True)
        parts = []
        if suffixes:
            alt = "|".join(re.escape(s) for s in suffixes)
            parts.append(rf"(?P<stem>\w+?)(?P<suffix>{alt})(?!\w)")
        if words:
            alt = "|".join(re.escape(w) for w in words)
            parts.append(rf"(?<!\w)(?P<word>{alt})(?!\w)")
        return _Rules(re.compile("|".join(parts)), table)
