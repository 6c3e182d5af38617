"""HTTP schemas of acoustic coverage (issue 19): shares of street length, gaps, suggestions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lightctl.services.coverage import CoverageReport


class SharesOut(BaseModel):
    intelligible: float = Field(description="share of the street length at ambient + 10 dB or more")
    audible: float = Field(description="share at ambient + 5 to + 10 dB")
    not_covered: float = Field(description="share below ambient + 5 dB")


class GapOut(BaseModel):
    street: str | None
    segment_id: str
    from_m: float = Field(description="metres from the segment's first vertex")
    to_m: float
    length_m: float
    lon: float
    lat: float
    geometry: dict[str, Any] = Field(description="GeoJSON LineString of the gap (lon/lat)")


class SuggestionOut(BaseModel):
    lon: float
    lat: float
    street: str | None
    segment_id: str
    newly_covered_m: float = Field(description="street length one more speaker makes intelligible")


class CoverageOut(SharesOut):
    """By day (the louder ambient, so the cautious figure); ``night`` repeats the shares."""

    ambient: str = "day"
    night: SharesOut
    echo_risk: float | None = Field(
        description="share of the length where a late arrival (> 50 ms, < 10 dB down) blurs speech"
    )
    length_m: float = Field(description="street length rated")
    speaker_count: int = Field(description="working speakers counted")
    broken_speaker_count: int = Field(description="speakers reported broken, left out")
    gaps: list[GapOut] = Field(description="not-covered stretches, longest first (50 at most)")
    gap_count: int
    warnings: list[str]
    model: dict[str, Any] = Field(description="the matrix the figures come from")

    @classmethod
    def of(cls, report: CoverageReport) -> CoverageOut:
        return cls(
            **report.shares,
            night=SharesOut(**report.night),
            echo_risk=report.echo_risk,
            length_m=round(report.length_m, 1),
            speaker_count=report.speakers,
            broken_speaker_count=report.broken_speakers,
            gaps=[
                GapOut(
                    street=g.street,
                    segment_id=g.segment_id,
                    from_m=g.from_m,
                    to_m=g.to_m,
                    length_m=g.length_m,
                    lon=g.lon,
                    lat=g.lat,
                    geometry={"type": "LineString", "coordinates": g.coordinates},
                )
                for g in report.gaps
            ],
            gap_count=report.gap_count,
            warnings=report.warnings,
            model=dict(report.matrix),
        )


class CityCoverageOut(CoverageOut):
    suggestions: list[SuggestionOut] = Field(description="where one more speaker helps most")
    geojson: dict[str, Any] | None = Field(
        description="FeatureCollection of street segments with metres per rating by day, and "
        "each segment's rating by day (rating) and by night (night_rating)"
    )

    @classmethod
    def city(cls, report: CoverageReport, geojson: bool) -> CityCoverageOut:
        base = CoverageOut.of(report).model_dump()
        features = None
        if geojson:
            features = {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": sid,
                        "geometry": {"type": "LineString", "coordinates": coords},
                        "properties": {
                            "name": name,
                            "class": cls_,
                            "intelligible_m": round(good, 1),
                            "audible_m": round(audible, 1),
                            "not_covered_m": round(bad, 1),
                            "rating": _worst(good, audible, bad),
                            "night_rating": _worst(*night),
                        },
                    }
                    for sid, name, cls_, coords, good, audible, bad, *night in report.segments
                ],
            }
        suggestions = [
            SuggestionOut(
                lon=s.lon,
                lat=s.lat,
                street=s.street,
                segment_id=s.segment_id,
                newly_covered_m=s.newly_covered_m,
            )
            for s in report.suggestions
        ]
        return cls(**base, suggestions=suggestions, geojson=features)


def _worst(good: float, audible: float, bad: float) -> str:
    """A segment's rating on the map: the one that holds most of its length."""
    best = max((good, "intelligible"), (audible, "audible"), (bad, "not_covered"))
    return best[1]
