"""Typed settings, read once from the environment and an optional `.env` file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ffs_bot.db.engine import POOL_SIZE
from ffs_bot.privacy import DEFAULT_RETENTION_DAYS
from ffs_bot.workshop_notices import WorkshopRules

__all__ = ["Settings", "normalise_database_url"]


def normalise_database_url(url: str) -> str:
    """Return `url` with the async driver SQLAlchemy needs for its scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like scheme://...")
    base = scheme.split("+", 1)[0]
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database scheme {base!r}: use sqlite or postgresql")


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path("data"), alias="FFS_DATA_DIR")
    locales_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "locales", alias="FFS_LOCALES_DIR"
    )
    default_timezone: str = Field(default="Asia/Shanghai", alias="FFS_DEFAULT_TIMEZONE")
    http_host: str = Field(default="127.0.0.1", alias="FFS_HTTP_HOST")
    http_port: int = Field(default=8080, alias="FFS_HTTP_PORT", ge=1, le=65535)

    concurrency: int = Field(default=64, alias="FFS_CONCURRENCY", ge=1, le=256)
    db_pool_size: int = Field(default=POOL_SIZE, alias="FFS_DB_POOL_SIZE", ge=2, le=200)
    outbox_max_attempts: int = Field(default=5, alias="FFS_OUTBOX_MAX_ATTEMPTS", ge=1, le=100)
    # How long a freed Family-Friendly Space seat is held for the first child waiting.
    seat_offer_hours: float = Field(default=24, alias="FFS_SEAT_OFFER_HOURS", gt=0, le=24 * 14)
    # Workshops: how long a freed seat is held (never later than 2 hours before the start),
    # and how many hours before the start reminders go out.
    workshop_offer_hours: float = Field(
        default=12, alias="FFS_WORKSHOP_OFFER_HOURS", gt=0, le=24 * 14
    )
    workshop_reminder_hours: str = Field(default="24,2", alias="FFS_WORKSHOP_REMINDER_HOURS")
    # Children's data is erased this many days after their last season ends (`ffs-bot purge`).
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS, alias="FFS_RETENTION_DAYS", ge=1, le=3650
    )
    # Messages (texts and button presses) one person may send in a minute; past it they are
    # asked once to slow down and the rest of that minute's messages are not acted on.
    max_messages_per_minute: int = Field(
        default=30, alias="FFS_MAX_MESSAGES_PER_MINUTE", ge=1, le=10_000
    )
    # A YAML file of safeguarding phrases replacing the default list (see README).
    safeguarding_phrases: Path | None = Field(default=None, alias="FFS_SAFEGUARDING_PHRASES")

    @field_validator("workshop_reminder_hours")
    @classmethod
    def _reminder_hours(cls, value: str) -> str:
        try:
            hours = [float(part) for part in value.split(",") if part.strip()]
        except ValueError as exc:
            raise ValueError("give hours before the start, e.g. 24,2") from exc
        if any(not 0 < h <= 24 * 14 for h in hours):
            raise ValueError("each reminder must be 0 to 336 hours before the start")
        return value

    @property
    def workshop_rules(self) -> WorkshopRules:
        """Offer and reminder times for workshops, from the settings."""
        hours = sorted(
            {float(part) for part in self.workshop_reminder_hours.split(",") if part.strip()},
            reverse=True,
        )
        return WorkshopRules(
            offer_window=timedelta(hours=self.workshop_offer_hours),
            reminders=tuple(timedelta(hours=h) for h in hours),
        )

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str | None = Field(default=None, alias="TELEGRAM_API_BASE_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, alias="TELEGRAM_WEBHOOK_SECRET"
    )
    wechat_token: SecretStr | None = Field(default=None, alias="WECHAT_TOKEN")
    wechat_app_id: str | None = Field(default=None, alias="WECHAT_APP_ID")
    wechat_app_secret: SecretStr | None = Field(default=None, alias="WECHAT_APP_SECRET")
    wechat_aes_key: SecretStr | None = Field(default=None, alias="WECHAT_AES_KEY")
    # During a key change WeChat may still encrypt with the old key for a while.
    wechat_aes_key_previous: SecretStr | None = Field(
        default=None, alias="WECHAT_AES_KEY_PREVIOUS"
    )
    # With an AES key, only safe mode is read; this also reads compatible mode's sealed copy.
    wechat_compatible_mode: bool = Field(default=False, alias="WECHAT_COMPATIBLE_MODE")
    wechat_api_base_url: str = Field(
        default="https://api.weixin.qq.com", alias="WECHAT_API_BASE_URL"
    )
    # WeChat waits 5 seconds for a passive reply; past this, the answer goes out later.
    wechat_reply_seconds: float = Field(default=4.0, alias="WECHAT_REPLY_SECONDS", gt=0, le=4.8)
    # Customer-service messages may follow a person's message for 48 hours, so many of them.
    wechat_window_hours: float = Field(default=48, alias="WECHAT_WINDOW_HOURS", gt=0, le=48)
    wechat_window_quota: int = Field(default=20, alias="WECHAT_WINDOW_QUOTA", ge=1, le=1000)
    # Outside the window, pushes of a kind (the outbox key's first part: booking,
    # registration, broadcast, tip, ...) go as this template message, when one is set.
    wechat_templates: dict[str, str] = Field(default_factory=dict, alias="WECHAT_TEMPLATES")

    @property
    def wechat_enabled(self) -> bool:
        """Whether the WeChat Official Account channel is configured."""
        return self.wechat_token is not None

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret_alphabet(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - as a secret token.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("use 1-256 letters, digits, '_' or '-'")
        return value

    @field_validator("wechat_token")
    @classmethod
    def _wechat_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The token is the whole of a plaintext request's signature: an empty one would let
        # anyone sign. WeChat's settings page takes 3 to 32 characters.
        if value is not None and not re.fullmatch(r"\S{3,32}", value.get_secret_value()):
            raise ValueError("use the 3-32 character Token from WeChat's settings page")
        return value

    @field_validator("wechat_aes_key", "wechat_aes_key_previous")
    @classmethod
    def _wechat_aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # WeChat's EncodingAESKey: 43 letters and digits, a 32-byte key in base64.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]{43}", value.get_secret_value()):
            raise ValueError("use the 43-character EncodingAESKey from WeChat's settings page")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else None

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with its async driver; SQLite under the data directory by default."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ffs.db').resolve()}"
