"""The alert's outcome record says how many lanterns proved their final state with their key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightctl.domain.records import Alert, Delivery
from lightctl.services.alerts.outcomes import outcome
from lightctl.services.alerts.reports import AlertReport

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _delivery(lantern_id: str, state: str, ack_kid: str | None) -> Delivery:
    return Delivery(
        command_id="c",
        lantern_id=lantern_id,
        alert_id="al-1",
        state=state,
        reason=None,
        attempts=1,
        next_attempt_at=None,
        published_at=T0,
        updated_at=T0 + timedelta(minutes=1),
        played=None,
        ack_kid=ack_kid,
    )


def test_the_outcome_counts_signed_final_states_apart() -> None:
    alert = Alert(
        id="al-1",
        created_at=T0,
        updated_at=T0 + timedelta(minutes=1),
        status="cancelled",
        priority=1,
        exercise=False,
        signal="warning",
        template=None,
        target={"lanterns": ["L0", "L1", "L2"]},
        messages={"de": "Achtung."},
        languages=("de",),
        clips=[],
        params={},
        repeat=1,
        volume=80,
        expires_at=T0 + timedelta(minutes=5),
        lantern_count=3,
        severity="severe",
        primary_command_id="c",
        ended_at=T0 + timedelta(minutes=1),
    )
    rows = [
        _delivery("L0", "done", "ak-0"),
        _delivery("L1", "done", None),  # an unsigned v1 lantern
        _delivery("L2", "expired", None),
    ]
    counts = {"done": 2, "expired": 1}
    report = AlertReport(alert, counts, [], T0 + timedelta(minutes=2), rows)
    detail = outcome(report)
    assert detail["signed"] == {"done": 1}
    assert detail["lantern_states"] == ["L0=done", "L1=done", "L2=expired"]
