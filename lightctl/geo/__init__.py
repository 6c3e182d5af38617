"""Geography adapters: inventory readers, CRS handling, street names, the nearest-street index,
and the lantern index that resolves targets."""

from lightctl.geo.crs import MetricProjection, utm_crs_for
from lightctl.geo.names import normalize_street_name, suggest
from lightctl.geo.readers import (
    LanternFormat,
    count_rows,
    detect_format,
    read_lanterns,
    read_streets,
)
from lightctl.geo.records import LanternRecord, SkippedRow, StreetSegment
from lightctl.geo.streets import StreetIndex
from lightctl.geo.targeting import LanternIndex

__all__ = [
    "LanternFormat",
    "LanternIndex",
    "LanternRecord",
    "MetricProjection",
    "SkippedRow",
    "StreetIndex",
    "StreetSegment",
    "count_rows",
    "detect_format",
    "normalize_street_name",
    "read_lanterns",
    "read_streets",
    "suggest",
    "utm_crs_for",
]
