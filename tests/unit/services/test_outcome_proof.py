"""The alert's outcome record says how many lanterns proved their final state with their key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightctl.services.alerts.outcomes import outcome
from lightctl.services.alerts.reports import AlertReport
from lightctl.store.tables import AlertRow, DeliveryRow

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_the_outcome_counts_signed_final_states_apart() -> None:
    alert = AlertRow(
        id="al-1",
        created_at=T0,
        priority=1,
        target_json='{"lanterns": ["L0", "L1", "L2"]}',
        messages_json='{"de": "Achtung."}',
        languages_json='["de"]',
        clips_json="{}",
        expires_at=T0 + timedelta(minutes=5),
        lantern_count=3,
        status="cancelled",
        ended_at=T0 + timedelta(minutes=1),
    )
    rows = [
        DeliveryRow(command_id="c", lantern_id="L0", state="done", ack_kid="ak-0"),
        DeliveryRow(command_id="c", lantern_id="L1", state="done"),  # an unsigned v1 lantern
        DeliveryRow(command_id="c", lantern_id="L2", state="expired"),
    ]
    counts = {"done": 2, "expired": 1}
    report = AlertReport(alert, counts, [], T0 + timedelta(minutes=2), rows)
    detail = outcome(report)
    assert detail["signed"] == {"done": 1}
    assert detail["lantern_states"] == ["L0=done", "L1=done", "L2=expired"]
