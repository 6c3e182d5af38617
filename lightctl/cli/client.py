"""A small HTTP client for the CLI: problem+json errors become clear messages."""

from __future__ import annotations

import os
from typing import Any

import httpx

from lightctl.cli.output import EXIT_INVALID, EXIT_UNREACHABLE, fail

DEFAULT_API = "http://127.0.0.1:8000"


def api_url(given: str | None) -> str:
    return (given or os.environ.get("LIGHTCTL_API_URL") or DEFAULT_API).rstrip("/")


def api_token(given: str | None) -> str | None:
    return given or os.environ.get("LIGHTCTL_TOKEN") or None


class ApiClient:
    def __init__(self, base: str, timeout_s: float = 30.0, token: str | None = None) -> None:
        self.base = base
        headers = {}
        secret = api_token(token)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        self._http = httpx.Client(base_url=base, timeout=timeout_s, headers=headers)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.HTTPError as exc:
            fail(
                f"cannot reach the lightctl API at {self.base} ({exc.__class__.__name__}); "
                "is `lightctl serve` or `lightctl demo` running? (set --api or LIGHTCTL_API_URL)",
                EXIT_UNREACHABLE,
            )
        if response.status_code == 401:
            fail(
                f"not signed in to {self.base}: {_detail(response)}; give --token or set "
                "LIGHTCTL_TOKEN (`lightctl tokens create` makes one)",
                EXIT_INVALID,
            )
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:300]}
            code = EXIT_UNREACHABLE if response.status_code >= 500 else 2
            fail(
                f"{body.get('title', 'request failed')} ({response.status_code}): "
                f"{body.get('detail', '')}",
                code,
                body.get("errors") or [],
            )
        return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))
    except ValueError:
        return response.text[:200]
