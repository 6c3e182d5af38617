"""Settings from flags or ``LIGHTCTL_*`` environment variables, injected into every component."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Languages the product ships templates and speech for (issue 4 lists them); de-LS is easy German.
SUPPORTED_LANGUAGES = ("de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl", "fr", "es", "it")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIGHTCTL_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("lightctl-data")
    database_url: str = ""  # empty: SQLite file in data_dir
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_root: str = "lightctl"
    mqtt_client_id: str = "lightctl-service"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    # Base URL lanterns use to fetch clips; empty means http://{http_host}:{http_port}.
    public_url: str = ""

    # Warning templates and pronunciation lexicon; empty means the shipped config/ files.
    templates_dir: Path | None = None
    lexicon_path: Path | None = None
    # Rehearsal mode: every alert is an exercise and all traffic goes to "<root>-sandbox", where
    # only simulated lanterns listen.
    sandbox: bool = False
    # Render every fixed template sentence at start-up (in the background).
    prerender_templates: bool = True
    # No program (signal, languages, repeats and gaps) may play longer than this.
    max_program_s: float = Field(default=600.0, gt=0)
    tts_engine: Literal["offline", "gtts"] = "offline"
    tts_timeout_s: float = Field(default=5.0, gt=0)
    street_max_distance_m: float = Field(default=30.0, gt=0, le=1000)
    # A target reaching more lanterns than this needs "confirm_large": true (a city of 400,000
    # people has ~40,000 street lamps; 100,000 is a large city, never one street by mistake).
    target_max_lanterns: int = Field(default=100_000, ge=1)
    # Largest inventory upload POST /lanterns/import takes: 1,000,000 lanterns of GeoJSON ~ 200 MB.
    import_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    max_text_chars: int = Field(default=1000, ge=1)
    default_expires_s: int = Field(default=1800, ge=10)
    max_expires_s: int = Field(default=86400, ge=60)
    # A lantern that never says `received` within this window gets the command again (backoff x2).
    ack_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _check_urls(self) -> Self:
        scheme = urlsplit(self.mqtt_url).scheme
        if scheme not in ("mqtt", "tcp"):
            raise ValueError(f"mqtt_url must start with mqtt:// (got {self.mqtt_url!r})")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lightctl.db'}"

    @property
    def resolved_public_url(self) -> str:
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::") else self.http_host
        return (self.public_url or f"http://{host}:{self.http_port}").rstrip("/")

    @property
    def topic_root(self) -> str:
        return f"{self.mqtt_root}-sandbox" if self.sandbox else self.mqtt_root

    @property
    def clip_dir(self) -> Path:
        return self.data_dir / "clips"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Host and port of an ``mqtt://HOST:PORT`` URL (port 1883 when absent)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"not an mqtt://HOST:PORT URL: {url!r}")
    return parts.hostname, parts.port or 1883
