"""Street names as people type them, folded to one key per street; suggestions for typos."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

# Umlauts fold the way German spells them without the dots (Löwen = Loewen), so a name typed on a
# keyboard without umlauts still matches; a dropped umlaut ("Lowen") is left to suggest().
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "æ": "ae", "ø": "oe", "œ": "oe"})
# "str." / "str" ending a word is Strasse (no real street name ends in "str"); "pl." is Platz only
# with its dot or standing alone, because "...pl" without a dot is no abbreviation anyone writes.
_ABBREVIATIONS = (
    (re.compile(r"str\b\.?"), "strasse"),
    (re.compile(r"(?<=\w)pl\.|\bpl\b\.?"), "platz"),
    (re.compile(r"\bsankt\b"), "st"),
)
# Everything that is not a letter or digit goes: spaces, hyphens, dots, apostrophes.
_SEPARATORS = re.compile(r"[\W_]+")

# difflib ratio below which a known name is not offered (0.6 is difflib's own default; it still
# offers "Bahnhofstrasse" for "Banhofstrase" at 0.92 and "Bahnhofplatz" for "Bahnhof" at 0.74).
_CUTOFF = 0.6


def normalize_street_name(name: str) -> str:
    """One key for all spellings of a street name: case, umlauts, ß, Str./Pl., spaces, hyphens."""
    text = unicodedata.normalize("NFKC", name).casefold().translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return _SEPARATORS.sub("", text)


def suggest(name: str, known_names: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` known names closest to ``name``, best first (an exact key match leads)."""
    if n <= 0:
        return []
    by_key: dict[str, str] = {}
    for known in known_names:
        by_key.setdefault(normalize_street_name(known), known)
    key = normalize_street_name(name)
    if not key:
        return []
    keys = difflib.get_close_matches(key, list(by_key), n=n, cutoff=_CUTOFF)
    if key in by_key and key not in keys:
        keys = [key, *keys[: n - 1]]
    return [by_key[k] for k in keys]
