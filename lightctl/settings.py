"""Settings from flags or ``LIGHTCTL_*`` environment variables, injected into every component."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, Self
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets people copy from examples; production refuses them (and anything this short).
WEAK_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "password", "lightctl", "admin", "postgres", "mosquitto"}
)
MIN_SECRET_CHARS = 24


def weak_secret(text: str) -> bool:
    """A secret copied from an example, or too short to resist guessing offline."""
    return text.lower() in WEAK_SECRETS or len(text) < MIN_SECRET_CHARS


def weak_secret_problem(name: str) -> str:
    return (
        f"{name} is a default or short secret; production needs at least {MIN_SECRET_CHARS} "
        "random characters (e.g. `openssl rand -base64 32`)"
    )


# Languages the product ships templates and speech for (issue 4 lists them); de-LS is easy German.
SUPPORTED_LANGUAGES = ("de", "de-LS", "en", "tr", "ar", "uk", "ru", "pl", "fr", "es", "it")


class CapSourcePolicy(BaseModel):
    """What a CAP sender's messages may do without a person (issue 16): ``auto`` plays the
    statuses and severities listed at once (slot 2); everything else becomes a suggestion."""

    model_config = ConfigDict(extra="forbid")

    auto: bool = False
    statuses: tuple[str, ...] = ("Actual",)
    severities: tuple[str, ...] = ("Extreme", "Severe")
    label: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIGHTCTL_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("lightctl-data")
    database_url: str = ""  # empty: SQLite file in data_dir
    # Apply pending schema migrations at start-up instead of refusing to start. Off by default:
    # an operator upgrades a production database on purpose (`lightctl db upgrade`), after a
    # backup; `lightctl demo` turns it on for the database it owns.
    database_auto_upgrade: bool = False
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
    # firmware-sim's control API (its --control-port), so operators can inject faults from the
    # console while rehearsing; empty: the console says fault injection is not available.
    simulator_control_url: str = ""
    # Its bearer token (firmware-sim prints it at start; `lightctl demo` sets both).
    simulator_control_token: SecretStr | None = None
    # Render every fixed template sentence at start-up (in the background).
    prerender_templates: bool = True
    # ---- clips on the lantern before the emergency (issue 14) ----
    # Speech starts on every lantern of an alert at one moment (``speech_at``): after the signal,
    # and no sooner than this after the alert is issued (0: the signal's own length, 5 s: the
    # 3,533 demo lanterns had their commands 5.7 s after POST before issue 14's fan-out).
    speech_lead_s: float = Field(default=0.0, ge=0, le=60)
    # Push the clip library (every template sentence, every language, and each street's own
    # sentences) to lanterns as retained manifests in quiet times.
    clip_library: bool = True
    # Which templates the library holds (empty: all) and in which languages (empty: the city's
    # languages and each template's default languages; every language of 10 templates for
    # every street of the demo would be 13,500 clips, 2.2 GB of WAV).
    # Built at start-up, so only with prerender_templates on.
    clip_library_templates: tuple[str, ...] = ()
    clip_library_languages: tuple[str, ...] = ()
    # Seconds between two manifests published (low priority: a 500-street city takes ~4 min).
    clip_library_pace_s: float = Field(default=0.5, ge=0, le=60)
    # Only after the outbox sent nothing for this long (a warning's commands come first).
    clip_library_quiet_s: float = Field(default=5.0, ge=0, le=3600)
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
    # POST /alerts writes an alert's delivery rows itself up to this many (the demo city's
    # 3,533 lanterns x 3 channels take ~0.2 s); above, it stores each command's lantern list
    # and the outbox writes the rows after the answer (100,000 x 3 rows take ~5 s on SQLite).
    delivery_rows_inline: int = Field(default=20_000, ge=0)
    # How many delivery rows the outbox writes per transaction from such a list: a POST that
    # arrives meanwhile waits for at most one chunk (~0.1 s on SQLite at 5,000).
    delivery_rows_chunk: int = Field(default=5_000, ge=1)
    # A progress stream (GET /alerts/{id}/events) re-reads and re-sends the alert at least this
    # often without a change: a heartbeat through proxies, and a bound on any missed wake-up.
    progress_refresh_s: float = Field(default=5.0, gt=0, le=60)

    # ---- CAP and MoWaS intake (issue 16) ----
    # Per CAP <sender> ("*": any other sender): what plays at once; a sender not listed (and no
    # "*") is refused. E.g. '{"DE-NW-BN-SE030": {"auto": true}, "*": {}}'.
    cap_sources: dict[str, CapSourcePolicy] = Field(default_factory=dict)
    # Per CAP sender: a PEM certificate its messages must be XML-DSig signed with (else refused).
    cap_signing_certs: dict[str, Path] = Field(default_factory=dict)
    # An Update or Cancel naming a message never seen waits this long for it (15 min).
    cap_hold_s: int = Field(default=900, ge=0, le=86400)
    # The city's languages, in playback order: what the console ticks for every hazard (one list
    # per city, not per hazard; the dispatcher sees it and may change it for one warning).
    city_languages: tuple[str, ...] = ("de", "en")
    # Playback order of a CAP message's languages: the city's own language first.
    cap_language_order: tuple[str, ...] = SUPPORTED_LANGUAGES
    # Said before the message's own headline, per voice.
    cap_lead_in: dict[str, str] = Field(
        default_factory=lambda: {
            "de": "Amtliche Warnung.",
            "de-LS": "Amtliche Warnung.",
            "en": "Official warning.",
        }
    )
    # Our <sender> in exported CAP (no spaces or commas), and the name shown with it.
    cap_sender: str = Field(default="lightctl", pattern=r"^[^\s,<&]+$", max_length=200)
    cap_sender_name: str = "lightctl"
    # How often the feed poller looks for due feeds (each feed has its own interval).
    cap_feed_tick_s: float = Field(default=2.0, gt=0, le=60)
    # A CAP warning plays this often, with this gap: people come to the window after the first.
    cap_repeat: int = Field(default=3, ge=1, le=5)
    cap_interval_s: float = Field(default=30.0, ge=0, le=30)
    # Embedded audio larger than this is named and ignored (an IPAWS mp3 is ~340 KB).
    cap_audio_max_bytes: int = Field(default=2 * 1024 * 1024, ge=0)

    # ---- who may do what ----
    # An admin token for the first start of an installation (create users and tokens, then unset
    # it). There is no session-signing secret: login sessions are random tokens stored hashed.
    bootstrap_token: SecretStr | None = None
    # A console login lasts at most one shift (12 h), then the dispatcher signs in again ...
    session_ttl_s: int = Field(default=12 * 3600, ge=60, le=7 * 86400)
    # ... and ends sooner when unused this long: an open console polls every few seconds and
    # keeps it alive, a token copied out of a closed browser is dead 30 min later.
    session_idle_s: int = Field(default=30 * 60, ge=120, le=7 * 86400)
    # Roles whose alerts wait for a second person's approval, e.g. '["dispatcher"]'.
    four_eyes_roles: frozenset[str] = frozenset()
    # JSON bodies are small (an area polygon of 5,000 points is ~200 KB); uploads stream apart.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Per address: a person mistypes a password a few times a minute, a guesser does thousands.
    login_attempts_per_min: float = Field(default=10.0, gt=0)
    # Per caller: the console polls a few times a second; a runaway script is slowed, not banned.
    requests_per_s: float = Field(default=50.0, gt=0)
    request_burst: int = Field(default=200, ge=1)
    # State-changing requests without credentials (sign-ins, and noise) per address, refused
    # before they reach the audit trail: a control room signing in at shift change is far below.
    anonymous_requests_per_min: float = Field(default=30.0, gt=0)
    # Reverse proxies whose X-Forwarded-For / Forwarded header names the client, as CIDRs, e.g.
    # '["10.0.0.0/8"]'. Empty: the TCP peer is the client and those headers are ignored.
    trusted_proxies: tuple[str, ...] = ()
    # QoS of every publish and subscription of the service (README "Brokers"): 1, except on
    # nats-server, whose QoS 1 is a replicated JetStream write per message and a JetStream
    # consumer per subscription (one in three of them dies unnoticed with any node); with 0 the
    # outbox's re-sends carry delivery instead of the broker's queues (lanterns use the same).
    mqtt_qos: int = Field(default=1, ge=0, le=1)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_password_file: Path | None = None  # as written by `lightctl mqtt credentials`
    mqtt_ca_file: Path | None = None  # CA of the broker's TLS certificate (mqtts://)
    # Lanterns with an ack key must always sign; True: every ack must be signed, keyed or not.
    acks_must_be_signed: bool = False
    # Acoustic coverage (issue 19; README "Acoustic coverage"): every lantern speaker's speech
    # level at 1 m and mast height, listener spacing, matrix radius, façade cap.
    speaker_level_db: float = Field(default=100.0, ge=60, le=130)
    speaker_height_m: float = Field(default=5.0, gt=0, le=100)
    coverage_spacing_m: float = Field(default=5.0, ge=1, le=50)
    coverage_radius_m: float = Field(default=150.0, ge=20, le=1000)
    facade_cap_db: float = Field(default=97.0, ge=60, le=130)

    @model_validator(mode="after")
    def _check_city_languages(self) -> Self:
        unknown = [lang for lang in self.city_languages if lang not in SUPPORTED_LANGUAGES]
        if unknown or not self.city_languages:
            raise ValueError(
                f"city_languages: {', '.join(unknown) or 'empty'} - choose from "
                f"{', '.join(SUPPORTED_LANGUAGES)}"
            )
        return self

    @model_validator(mode="after")
    def _check_urls(self) -> Self:
        scheme = urlsplit(self.mqtt_url).scheme
        if scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
            raise ValueError(
                f"mqtt_url must start with mqtt:// or mqtts:// (got {self.mqtt_url!r})"
            )
        return self

    @model_validator(mode="after")
    def _check_secrets(self) -> Self:
        from lightctl.domain.roles import Role

        unknown = sorted(set(self.four_eyes_roles) - {r.value for r in Role})
        if unknown:
            raise ValueError(f"four_eyes_roles: unknown role {unknown[0]!r}")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: not an address or CIDR: {proxy!r}") from None
        if self.environment != "production":
            return self
        for name in ("bootstrap_token", "mqtt_password"):
            value: SecretStr | None = getattr(self, name)
            if value is not None and weak_secret(value.get_secret_value()):
                raise ValueError(weak_secret_problem(name))
        # The database's password too (docker-compose's example one is "lightctl"); a URL
        # without one (peer or certificate authentication) has nothing to guess.
        db_password = urlsplit(self.database_url).password if self.database_url else None
        if db_password is not None and weak_secret(unquote(db_password)):
            raise ValueError(weak_secret_problem("the password in database_url"))
        return self

    @property
    def mqtt_tls(self) -> bool:
        return urlsplit(self.mqtt_url).scheme in ("mqtts", "ssl")

    def mqtt_secret(self) -> str | None:
        """The service's broker password: given directly, or read from its file."""
        if self.mqtt_password is not None:
            return self.mqtt_password.get_secret_value()
        if self.mqtt_password_file is not None:
            return self.mqtt_password_file.read_text(encoding="utf-8").strip()
        return None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lightctl.db'}"

    @property
    def resolved_public_url(self) -> str:
        # S104: compared with the all-interfaces address to name a reachable one; binds nothing.
        wildcard = self.http_host in ("0.0.0.0", "::")  # noqa: S104
        host = "127.0.0.1" if wildcard else self.http_host
        return (self.public_url or f"http://{host}:{self.http_port}").rstrip("/")

    @property
    def topic_root(self) -> str:
        return f"{self.mqtt_root}-sandbox" if self.sandbox else self.mqtt_root

    @property
    def clip_dir(self) -> Path:
        return self.data_dir / "clips"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Host and port of an ``mqtt://HOST:PORT`` URL (1883, or 8883 for mqtts://, when absent);
    of a cluster's ``mqtt://NODE1:PORT,NODE2:PORT`` the first node."""
    return parse_mqtt_urls(url)[0]


def parse_mqtt_urls(url: str) -> list[tuple[str, int]]:
    """Every node of ``mqtt://HOST:PORT[,HOST:PORT...]``: the nodes of one clustered broker."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise ValueError(f"not an mqtt://HOST:PORT URL: {url!r}")
    default_port = 8883 if scheme in ("mqtts", "ssl") else 1883
    nodes: list[tuple[str, int]] = []
    for part in rest.split("/", 1)[0].split(","):
        parts = urlsplit(f"{scheme}://{part.strip()}")
        if not parts.hostname:
            raise ValueError(f"not an mqtt://HOST:PORT URL: {url!r} (no host in {part!r})")
        try:
            port = default_port if parts.port is None else parts.port
        except ValueError:
            raise ValueError(f"bad port in {part!r} of {url!r}") from None
        if port == 0:
            raise ValueError(f"port 0 is not a broker port: {url!r}")
        nodes.append((parts.hostname, port))
    return nodes
