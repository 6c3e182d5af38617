"""Counters of delivery and input hygiene, as JSON or in the Prometheus text format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from lightctl.api.deps import RuntimeDep
from lightctl.api.schemas import ClipLibraryOut

router = APIRouter(tags=["system"])

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
# Values that are a state now, not a count since start.
GAUGES = frozenset({"mqtt_connected", "ack_leader", "delivery_rows_pending"})
# Acks not believed, one labelled family so one alert rule covers every reason (forged,
# unsigned, another lantern's key, out of order): lightctl_acks_refused_total{reason="..."}.
REFUSED_PREFIX = "consumer_ack_refused_"
REFUSED_FAMILY = "lightctl_acks_refused_total"
# Acks for a command never sent to that lantern: a flat counter since issue 4, also in the family.
UNKNOWN_COMMAND = "consumer_ack_unknown_command"


class MetricsOut(BaseModel):
    counters: dict[str, int] = Field(
        description="since the process started: consumer_dropped_<why> (junk on ack/state "
        "topics), consumer_ack_refused_<why> (acks not believed: unsigned, foreign_key, "
        "unknown_key, bad_signature, not_sent, status_not_for_command, played_mismatch), "
        "consumer_ack_*, outbox_*, signer_*; mqtt_connected is 0 or 1"
    )


@router.get("/metrics", response_model=MetricsOut)
def metrics(
    runtime: RuntimeDep,
    format: Annotated[str | None, Query(pattern="^(json|prometheus)$")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> MetricsOut | Response:
    """JSON by default; Prometheus text with ``?format=prometheus`` or ``Accept: text/plain``."""
    counters = runtime.metrics()
    wants_text = format == "prometheus" or (
        format is None and accept is not None and accept.startswith("text/plain")
    )
    if not wants_text:
        return MetricsOut(counters=counters)
    lines: list[str] = [f"# TYPE {REFUSED_FAMILY} counter"]
    refused = {
        n[len(REFUSED_PREFIX) :]: v for n, v in counters.items() if n.startswith(REFUSED_PREFIX)
    }
    if UNKNOWN_COMMAND in counters:
        refused["unknown_command"] = counters[UNKNOWN_COMMAND]
    for reason in sorted(refused):
        lines.append(f'{REFUSED_FAMILY}{{reason="{reason}"}} {refused[reason]}')
    for name in sorted(counters):
        if name.startswith(REFUSED_PREFIX):
            continue
        kind = "gauge" if name in GAUGES else "counter"
        metric = f"lightctl_{name}" if kind == "gauge" else f"lightctl_{name}_total"
        lines += [f"# TYPE {metric} {kind}", f"{metric} {counters[name]}"]
    return PlainTextResponse("\n".join(lines) + "\n", media_type=PROMETHEUS)


@router.get("/clips/library", response_model=ClipLibraryOut)
def clip_library(runtime: RuntimeDep) -> ClipLibraryOut:
    """The clip library (issue 14): each manifest's version and how many lanterns hold it
    completely, and every lantern that lacks clips with the reasons it reported."""
    return ClipLibraryOut.model_validate(runtime.clip_library_summary())
