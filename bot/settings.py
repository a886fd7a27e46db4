"""Settings from VRAAGBAAK_* environment variables and an optional .env file."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_API_DEFAULT = "https://api.telegram.org"


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

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            return [int(p) for p in parts]
        return value

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
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url.split("://", 1)[1]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vraagbaak.db').resolve()}"

    def secret(self) -> bytes:
        """The key for pseudonyms and signatures, created once under DATA_DIR if not set."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation errors into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        raise ConfigError(f"VRAAGBAAK_{field.upper()}: {err['msg']}") from None
    except ValueError as exc:  # e.g. a non-integer in ADMIN_IDS before pydantic sees it
        raise ConfigError(str(exc)) from None
