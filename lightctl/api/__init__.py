"""HTTP API v1 (FastAPI); the only package that knows HTTP."""

from lightctl.api.app import create_app

__all__ = ["create_app"]
