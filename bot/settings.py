"""Settings from VRAAGBAAK_* environment variables and an optional .env file."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.files import read_or_create_secret

TELEGRAM_API_DEFAULT = "https://api.telegram.org"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    """All run-time configuration of the desk."""

    model_config = SettingsConfigDict(
        env_prefix="VRAAGBAAK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = TELEGRAM_API_DEFAULT
    redis_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path("./data")
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    default_locale: Literal["nl", "en"] = "nl"
    timezone: str = "Europe/Amsterdam"
    office_hours: str = "mon-fri 09:00-17:00"
    secret_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    rate_limit_per_second: int = Field(default=30, ge=1)
    max_concurrent_chats: int = Field(default=64, ge=1)
    # Flood control: more than FLOOD_MESSAGES messages in FLOOD_SECONDS from one chat gets one
    # notice and the surplus is not handled (0 turns it off). Experts are exempt.
    flood_messages: int = Field(default=5, ge=0)
    flood_seconds: float = Field(default=10.0, gt=0)
    transcript_ttl_days: int = Field(default=7, ge=1)
    # Handoff timeouts, in minutes.
    unclaimed_alert_minutes: int = Field(default=15, ge=1)
    expert_reminder_minutes: int = Field(default=10, ge=1)
    expert_requeue_minutes: int = Field(default=20, ge=1)
    conversation_idle_hours: int = Field(default=24, ge=1)
    expert_max_conversations: int = Field(default=3, ge=1)
    # The web app (health, metrics, dashboard, webhook).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    web_public_url: str | None = None  # how people reach the dashboard, e.g. https://desk.example
    webhook_url: str | None = None  # set: Telegram posts updates here instead of long polling
    log_format: Literal["text", "json"] = "text"
    # More than one desk instance (issue 22). "multi" requires a shared SECRET_KEY, a Redis
    # server by URL or Sentinel, and PostgreSQL; the embedded Redis and SQLite serve one.
    instances: Literal["single", "multi"] = "single"
    instance_id: str | None = None  # unique per running process; default host-pid
    # Redis Sentinel: "host:port" addresses; when set, the primary of REDIS_SENTINEL_SERVICE
    # is used instead of REDIS_URL (a password for the data nodes goes in REDIS_PASSWORD).
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_service: str = "vraagbaak"
    redis_sentinel_password: SecretStr | None = None
    redis_password: SecretStr | None = None
    redis_tls: bool = False
    feed_partitions: int = Field(default=8, ge=1, le=256)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            return [int(p) for p in parts]
        return value

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _split_sentinels(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
        if isinstance(value, list):
            for address in value:
                host, _, port = str(address).rpartition(":")
                if not host or not port.isdigit():
                    raise ValueError(f"{address!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _multi_instance_parts(self) -> Settings:
        if self.instances != "multi":
            return self
        if self.secret_key is None:
            raise ValueError("instances=multi needs VRAAGBAAK_SECRET_KEY, the same on every "
                             "instance (pseudonyms, login links and the webhook secret)")
        if not self.redis_url and not self.redis_sentinels:
            raise ValueError("instances=multi needs a shared Redis: VRAAGBAAK_REDIS_URL or "
                             "VRAAGBAAK_REDIS_SENTINELS (the embedded Redis serves one instance)")
        if not self.database_url or make_url(self.database_url).get_backend_name() == "sqlite":
            raise ValueError("instances=multi needs PostgreSQL in VRAAGBAAK_DATABASE_URL "
                             "(SQLite serves one instance)")
        return self

    @property
    def instance(self) -> str:
        """This process's name among the desk instances (leases, heartbeats, consumers)."""
        return self.instance_id or f"{socket.gethostname()}-{os.getpid()}"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/").removesuffix("/bot")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        # The message never repeats the URL: it may hold a password.
        if not value:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (like postgresql://user:pw@host/db)") from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite://")
        mode = url.query.get("sslmode")
        if mode is not None and mode not in SSL_MODES:
            raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
        return value
    @field_validator("web_public_url", "webhook_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else None

    @property
    def dashboard_url(self) -> str:
        """Where the dashboard is reached from outside."""
        return self.web_public_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def zone(self) -> ZoneInfo:
        """The desk's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def bot_base_url(self) -> str:
        """Base URL for Bot API methods, as python-telegram-bot expects it."""
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_file_url(self) -> str:
        """Base URL for file downloads."""
        return f"{self.telegram_api_url}/file/bot"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, SQLite under DATA_DIR unless DATABASE_URL says otherwise."""
        if self.database_url:
            url = make_url(self.database_url)
            if url.get_backend_name() in ("postgresql", "postgres"):
                # libpq's sslmode means the same as asyncpg's `ssl` connect argument.
                query = dict(url.query)
                mode = query.pop("sslmode", None)
                if mode is not None:
                    query["ssl"] = mode
                url = url.set(drivername="postgresql+asyncpg", query=query)
            return url.render_as_string(hide_password=False)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vraagbaak.db').resolve()}"

    def secret(self) -> bytes:
        """The key for pseudonyms and signatures, created once under DATA_DIR if not set."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return read_or_create_secret(self.data_dir / "secret.key")


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation errors into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a rule across settings: its message names the variables
            raise ConfigError(str(err["msg"]).removeprefix("Value error, ")) from None
        field = str(err["loc"][0])
        raise ConfigError(f"VRAAGBAAK_{field.upper()}: {err['msg']}") from None
    except ValueError as exc:  # e.g. a non-integer in ADMIN_IDS before pydantic sees it
        raise ConfigError(str(exc)) from None
