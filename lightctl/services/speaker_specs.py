"""Per-lantern speaker data for the coverage model: level at 1 m, height, heading and beam.

A CSV ``lantern_id,level_db,height_m[,heading_deg,beam_deg]`` (empty cells keep the defaults)
is checked row by row and kept as ``<data_dir>/speakers.json``; lanterns it does not name use
the configured defaults.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from lightctl.acoustics.propagation import SourceSpec
from lightctl.errors import ImportFailed, InvalidRequest

SPEAKERS_FILE = "speakers.json"
FIELDS = ("level_db", "height_m", "heading_deg", "beam_deg")


def read_speaker_specs(path: Path, default: SourceSpec) -> dict[str, SourceSpec]:
    """Every row checked; the first bad one refuses the file naming its row and field."""
    name = str(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportFailed(name, f"not a readable CSV file ({exc})") from exc
    if not rows or "lantern_id" not in rows[0]:
        raise ImportFailed(name, "expected a header with lantern_id and level_db / height_m")
    out: dict[str, SourceSpec] = {}
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        lantern = (row.get("lantern_id") or "").strip()
        if not lantern:
            raise InvalidRequest.at(("line", n, "lantern_id"), "missing")
        values: dict[str, float] = {}
        for field in FIELDS:
            text = (row.get(field) or "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError as exc:
                raise InvalidRequest.at(("line", n, field), "not a number", text) from exc
            if not math.isfinite(value):
                raise InvalidRequest.at(("line", n, field), "not a finite number", text)
            values[field] = value
        spec = SourceSpec(
            level_db=values.get("level_db", default.level_db),
            height_m=values.get("height_m", default.height_m),
            heading_deg=values.get("heading_deg"),
            beam_deg=values.get("beam_deg"),
        )
        out[lantern] = spec.checked(("line", n))
    return out


def save_speaker_specs(data_dir: Path, specs: dict[str, SourceSpec]) -> Path:
    body = {
        lantern: {
            "level_db": s.level_db,
            "height_m": s.height_m,
            "heading_deg": s.heading_deg,
            "beam_deg": s.beam_deg,
        }
        for lantern, s in sorted(specs.items())
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / SPEAKERS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    tmp.replace(target)
    return target


def load_speaker_specs(data_dir: Path) -> dict[str, SourceSpec]:
    target = data_dir / SPEAKERS_FILE
    if not target.exists():
        return {}
    body = json.loads(target.read_text(encoding="utf-8"))
    return {
        lantern: SourceSpec(v["level_db"], v["height_m"], v.get("heading_deg"), v.get("beam_deg"))
        for lantern, v in body.items()
    }


def specs_version(data_dir: Path) -> str:
    target = data_dir / SPEAKERS_FILE
    try:
        stat = target.stat()
    except FileNotFoundError:
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}"
