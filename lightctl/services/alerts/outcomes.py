"""Each alert's outcome, written into the audit trail once nothing about the alert can change.

Polled rather than pushed: an alert is final when every lantern answered *and* it ended (expired,
cancelled, all-clear), which no single event announces; a sweep every few seconds over the newest
alerts costs a handful of queries, survives restarts, and any replica may do it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from lightctl.services.alerts.reports import AlertReport
from lightctl.services.alerts.service import AlertService
from lightctl.services.audit import AuditTrail

log = logging.getLogger(__name__)

OUTCOME = "alert.outcome"
SYSTEM = "lightctl"
# Newest alerts looked at per sweep: far more than end within one interval, even in a crisis.
SWEEP_ALERTS = 200
# Per-lantern states are listed in the record up to this many lanterns (~30 bytes each); above,
# the record keeps the counts and a digest of the sorted "id=state" list.
LIST_LANTERNS_UP_TO = 5000


def is_final(report: AlertReport) -> bool:
    return report.finished and report.status in ("expired", "cancelled", "all_clear")


def outcome(report: AlertReport) -> dict[str, Any]:
    a = report.alert
    states = sorted(f"{d.lantern_id}={d.state}" for d in report.lanterns or [])
    detail: dict[str, Any] = {
        "alert": a.id,
        "status": report.status,
        "priority": a.priority,
        "exercise": a.exercise,
        "created_at": a.created_at.isoformat(),
        "ended_at": a.ended_at.isoformat() if a.ended_at else None,
        "expires_at": a.expires_at.isoformat(),
        "template": a.template,
        "messages": dict(a.messages),
        "languages": list(a.languages),
        "target": a.target,
        "lantern_count": a.lantern_count,
        "counts": report.counts,
        "commands": [
            {"id": c.id, "channel": c.channel, "op": c.op, "counts": c.counts}
            for c in report.commands
        ],
        "lantern_states_sha256": hashlib.sha256("\n".join(states).encode()).hexdigest(),
        # Per final state, how many lanterns said so in an ack signed with their own key.
        "signed": dict(
            sorted(Counter(d.state for d in report.lanterns or [] if d.ack_kid).items())
        ),
    }
    if len(states) <= LIST_LANTERNS_UP_TO:
        detail["lantern_states"] = states
    return detail


class OutcomeRecorder:
    def __init__(
        self,
        alerts: Callable[[], AlertService | None],
        audit: AuditTrail,
        interval_s: float = 5.0,
    ) -> None:
        self._alerts = alerts
        self._audit = audit
        self._interval_s = interval_s
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # a database hiccup must not end the recorder
                log.exception("recording alert outcomes failed; retrying")
            try:
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping.set()

    def sweep(self) -> int:
        """Record every final alert not yet recorded; returns how many were written."""
        service = self._alerts()
        if service is None:
            return 0
        final = [r.alert.id for r in service.recent(SWEEP_ALERTS) if is_final(r)]
        done = self._audit.recorded(OUTCOME, final)
        written = 0
        for alert_id in final:
            if alert_id in done:
                continue
            report = service.get(alert_id, with_lanterns=True)
            self._audit.append(OUTCOME, SYSTEM, ("system",), alert_id, outcome(report))
            written += 1
        return written
