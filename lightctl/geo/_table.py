"""CSV lantern tables: which columns hold what, and one parsed row per data line."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lightctl.errors import ImportFailed, InvalidRequest
from lightctl.geo.records import (
    BadRow,
    RawLantern,
    SkippedRow,
    lantern_id_of,
    parse_number,
    parse_orientation,
)

# Excel in German-speaking locales writes ';' and decimal commas; tabs come from copy-paste.
_DELIMITERS = ",;\t"
# Header names are compared lower-case without spaces, '_', '-', '.' and bracketed units
# ("X_Coord" is "xcoord", "Longitude (WGS84)" is "longitude"). objectid/fid are left out of
# the ids on purpose: exports renumber them, a position is steadier.
ID_COLUMNS = (
    "nisnr",
    "id",
    "lanternid",
    "lampid",
    "lightid",
    "streetlightid",
    "luminaireid",
    "assetid",
    "uid",
    "gmlid",
)
_WKT_COLUMNS = ("geometry", "wkt", "geom", "thegeom", "shape", "wktgeom")
# "lat, lon" in one cell: the "Geo Point" column of OpenDataSoft portals (many cities' open data).
_LATLON_COLUMNS = ("geopoint2d", "geopoint", "latlon", "latlng")
_XY_COLUMNS = (
    ("longitude", "latitude"),
    ("lon", "lat"),
    ("lng", "lat"),
    ("long", "lat"),
    ("lonwgs84", "latwgs84"),
    ("wgs84lon", "wgs84lat"),
    ("x", "y"),
    ("xcoord", "ycoord"),
    ("xcoordinate", "ycoordinate"),
    ("coordx", "coordy"),
    ("easting", "northing"),
    ("east", "north"),
    ("e", "n"),
    ("lv95e", "lv95n"),
    ("rechtswert", "hochwert"),
    ("ostwert", "nordwert"),
    # The same words in the languages of the open-data portals met so far.
    ("längengrad", "breitengrad"),
    ("laengengrad", "breitengrad"),
    ("länge", "breite"),
    ("laenge", "breite"),
    ("longitud", "latitud"),
    ("longitudine", "latitudine"),
    ("lengtegraad", "breedtegraad"),
)
ORIENTATION_KEYS = ("orientierung", "orientierung_deg", "orientation", "orientation_deg")

_WKT_POINT = re.compile(
    r"^\s*POINT\s*(?:ZM|Z|M)?\s*\(\s*(\S+)\s+(\S+)(?:\s+\S+){0,2}\s*\)\s*$", re.IGNORECASE
)
_WKT_EMPTY = re.compile(r"^\s*POINT\s*(?:ZM|Z|M)?\s*EMPTY\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """Where a table keeps the id, the coordinates and the facing (column indexes)."""

    delimiter: str
    header: tuple[str, ...]
    id_col: int | None  # None: no id column, ids come from the position
    wkt_col: int | None
    x_col: int | None
    y_col: int | None
    orientation_col: int | None
    latlon_col: int | None = None

    @classmethod
    def read(
        cls,
        path: Path,
        id_field: str | None,
        xy_fields: tuple[str, str] | None = None,
    ) -> CsvLayout:
        """Read the header and decide the layout, or say why the file is no lantern table.

        ``xy_fields``: the columns holding x (or lon, easting) and y, named by the operator.
        """
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                first = handle.readline()
        except UnicodeDecodeError as exc:
            raise ImportFailed(str(path), "not UTF-8 text (save the CSV as UTF-8)") from exc
        if not first.strip():
            raise ImportFailed(str(path), "empty file: no header line")
        delimiter = max(_DELIMITERS, key=first.count)
        header = tuple(next(csv.reader([first], delimiter=delimiter)))
        keys = [column_key(h) for h in header]

        def find(*names: str) -> int | None:
            return next((keys.index(n) for n in names if n in keys), None)

        if id_field is not None:
            id_col = find(column_key(id_field))
            if id_col is None:
                raise InvalidRequest.at(
                    ("id_field",), "no such column in the file", value=id_field, suggestions=header
                )
        else:
            id_col = find(*ID_COLUMNS)
        orientation_col = find(*(column_key(k) for k in ORIENTATION_KEYS))
        if xy_fields is not None:
            cols = [find(column_key(name)) for name in xy_fields]
            for loc, name, col_no in zip(("x_field", "y_field"), xy_fields, cols, strict=True):
                if col_no is None:
                    raise InvalidRequest.at(
                        (loc,), "no such column in the file", value=name, suggestions=header
                    )
            x_named, y_named = cols
            return cls(delimiter, header, id_col, None, x_named, y_named, orientation_col, None)
        wkt_col = find(*_WKT_COLUMNS)
        latlon_col = None if wkt_col is not None else find(*_LATLON_COLUMNS)
        x_col = y_col = None
        if wkt_col is None and latlon_col is None:
            pair = next(((x, y) for x, y in _XY_COLUMNS if x in keys and y in keys), None)
            if pair is None:
                seen = ", ".join(repr(h) for h in header)
                raise ImportFailed(
                    str(path),
                    "cannot find the coordinate columns: expected a WKT POINT column (geometry, "
                    "wkt, geom) or a pair such as longitude/latitude, lon/lat, lng/lat, x/y, "
                    f"easting/northing, e/n; the header has {seen}. Name them with "
                    "--x-field and --y-field (API: x_field, y_field)",
                )
            x_col, y_col = keys.index(pair[0]), keys.index(pair[1])
        return cls(
            delimiter,
            header,
            id_col,
            wkt_col,
            x_col,
            y_col,
            orientation_col,
            latlon_col,
        )

    def coordinate_cols(self) -> set[int]:
        cols = (self.wkt_col, self.x_col, self.y_col, self.latlon_col)
        return {c for c in cols if c is not None}

    def parse(self, row_no: int, cells: list[str]) -> RawLantern | SkippedRow:
        """One data line to a raw lantern (source CRS units) or the reason it is skipped."""
        lantern_id: str | None = None
        try:
            if len(cells) != len(self.header):
                raise BadRow(f"row has {len(cells)} fields, the header has {len(self.header)}")
            if self.id_col is not None:
                lantern_id = lantern_id_of(cells[self.id_col])
            x, y = self._coordinates(cells)
        except BadRow as exc:
            return SkippedRow(row_no, str(exc), lantern_id)
        skip = self.coordinate_cols()
        properties = {
            h: v for i, (h, v) in enumerate(zip(self.header, cells, strict=True)) if i not in skip
        }
        facing = (
            None if self.orientation_col is None else self._decimal(cells[self.orientation_col])
        )
        return RawLantern(row_no, lantern_id, x, y, parse_orientation(facing), properties)

    def _coordinates(self, cells: list[str]) -> tuple[float, float]:
        if self.wkt_col is not None:
            return _wkt_point(cells[self.wkt_col])
        if self.latlon_col is not None:
            return _lat_lon_cell(cells[self.latlon_col])
        if self.x_col is None or self.y_col is None:  # read() finds WKT, a geo point or x/y
            raise BadRow("no coordinate columns")
        x_text, y_text = cells[self.x_col], cells[self.y_col]
        if not x_text.strip() and not y_text.strip():
            raise BadRow("missing coordinates")
        return self._number(x_text, self.header[self.x_col]), self._number(
            y_text, self.header[self.y_col]
        )

    def _number(self, text: str, column: str) -> float:
        return parse_number(self._decimal(text), f"coordinate {column}")

    def _decimal(self, text: str) -> str:
        # "8,5417" is a decimal comma only where the comma cannot be the field delimiter.
        if self.delimiter != "," and text.count(",") == 1 and "." not in text:
            return text.replace(",", ".")
        return text


def _wkt_point(text: str) -> tuple[float, float]:
    if not text.strip() or _WKT_EMPTY.match(text):
        raise BadRow("missing coordinates")
    match = _WKT_POINT.match(text)
    if match is None:
        raise BadRow(f"geometry is not a WKT POINT: {text[:40]!r}")
    return parse_number(match[1], "coordinate E/x"), parse_number(match[2], "coordinate N/y")


def _lat_lon_cell(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    if not text.strip():
        raise BadRow("missing coordinates")
    if len(parts) != 2:
        raise BadRow(f"geo point is not 'lat, lon': {text[:40]!r}")
    lat, lon = parse_number(parts[0], "latitude"), parse_number(parts[1], "longitude")
    return lon, lat


def column_key(name: str) -> str:
    """A header name compared loosely: lower case, a bracketed unit dropped ("Latitude (WGS84)"),
    without spaces, '_', '-', '.'."""
    unbracketed = re.sub(r"[(\[][^)\]]*[)\]]", "", name.strip().lower())
    return re.sub(r"[\s_\-.()\[\]]+", "", unbracketed)


def csv_rows(path: Path, layout: CsvLayout) -> Iterator[RawLantern | SkippedRow]:
    """Stream the data lines of a CSV file (blank lines are ignored)."""
    row_no = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=layout.delimiter)
            next(reader, None)
            for cells in reader:
                if not cells or all(not c.strip() for c in cells):
                    continue
                row_no += 1
                yield layout.parse(row_no, cells)
    except UnicodeDecodeError as exc:
        raise ImportFailed(str(path), f"not UTF-8 text after data row {row_no}") from exc
    except csv.Error as exc:
        raise ImportFailed(str(path), f"malformed CSV after data row {row_no}: {exc}") from exc


def count_csv_rows(path: Path) -> int:
    """Data lines of a CSV file, not parsed (an upper bound if quoted cells hold newlines)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)
