"""Alembic migrations of the lightctl schema; run through ``lightctl db upgrade``."""
