"""What the dispatcher sees of an alert: its status, delivery counts and commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from lightctl.domain.delivery import DeliveryState, is_terminal
from lightctl.domain.records import Alert, Delivery
from lightctl.store import alerts as alert_store
from lightctl.store import plans as plan_store


@dataclass(frozen=True, slots=True)
class CommandReport:
    id: str
    channel: str
    op: str
    expires_at: datetime
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class AlertReport:
    """An alert, the delivery counts of its current audio command, and every command it sent."""

    alert: Alert
    counts: dict[str, int]
    commands: list[CommandReport]
    now: datetime
    lanterns: list[Delivery] | None = None
    # Cancelled or cleared: lanterns whose releases are confirmed, open or never confirmed.
    released: dict[str, int] | None = None

    @property
    def finished(self) -> bool:
        return all(is_terminal(DeliveryState(s)) for s in self.counts)

    @property
    def status(self) -> str:
        """sending | completed | cancelled | all_clear | expired | awaiting_approval."""
        if self.alert.status in ("cancelled", "all_clear", "awaiting_approval"):
            return self.alert.status
        if self.now >= self.alert.expires_at and self.finished:
            return "expired"
        return "completed" if self.finished else "sending"

    @property
    def active(self) -> bool:
        return self.alert.status == "active" and self.now < self.alert.expires_at


def build_report(session: Session, alert: Alert, now: datetime, with_lanterns: bool) -> AlertReport:
    """The alert with its commands' counts (and, if asked, the primary command's rows)."""
    stored = alert_store.commands_of(session, alert.id)
    # Lanterns whose delivery rows the outbox has not written yet are `planned` (issue 14).
    unwritten = plan_store.unwritten_counts(session, [c.id for c in stored])
    counts_of = alert_store.counts_of_commands(session, [c.id for c in stored])
    commands = [
        CommandReport(
            c.id,
            c.channel,
            c.op,
            c.expires_at,
            _with_planned(counts_of[c.id], unwritten.get(c.id, 0)),
        )
        for c in stored
    ]
    primary = alert.primary_command_id
    counts = next((c.counts for c in commands if c.id == primary), {})
    rows = None
    if with_lanterns and primary:
        rows = alert_store.deliveries(session, primary)
        rows += plan_store.unwritten_rows(session, primary, now)
    released = None
    if alert.status in ("cancelled", "all_clear"):
        releases = [c.id for c in commands if c.op == "release"]
        released = alert_store.lanterns_released(session, releases)
    return AlertReport(alert, counts, commands, now, rows, released)


def _with_planned(counts: dict[str, int], unwritten: int) -> dict[str, int]:
    if unwritten:
        counts["planned"] = counts.get("planned", 0) + unwritten
    return counts
