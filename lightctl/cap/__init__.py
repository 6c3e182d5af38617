"""CAP 1.2 and NINA/MoWaS in, CAP 1.2 out (issue 16)."""
