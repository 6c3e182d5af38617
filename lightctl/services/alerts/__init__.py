"""Alerts: lifecycle, what each channel sends, fan-out, four-eyes approval, reports, outcomes."""
