"""Settings from the environment: database URLs, defaults, secrets kept out of output."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ffs_bot.config import Settings, normalise_database_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_the_async_driver(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://x", "nonsense"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_database_url(url)


def test_default_database_is_sqlite_under_the_data_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("FFS_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/ffs.db"
    assert settings.default_timezone == "Asia/Shanghai"


def test_settings_come_from_a_dotenv_file(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = tmp_path / ".env"
    env.write_text("DATABASE_URL=postgresql://p@h/ffs\nFFS_DEFAULT_TIMEZONE=Asia/Hong_Kong\n")
    settings = Settings(_env_file=env)
    assert settings.sqlalchemy_url == "postgresql+asyncpg://p@h/ffs"
    assert settings.default_timezone == "Asia/Hong_Kong"


def test_unknown_time_zone_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("FFS_DEFAULT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_secrets_never_show_in_printed_settings(monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:very-secret-token")
    monkeypatch.setenv("WECHAT_APP_SECRET", "wechat-secret-value")
    settings = Settings(_env_file=None)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "very-secret-token" not in shown
    assert "wechat-secret-value" not in shown
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "123:very-secret-token"


def test_workshop_reminders_and_offers_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FFS_WORKSHOP_REMINDER_HOURS", "2, 48 ,24")
    monkeypatch.setenv("FFS_WORKSHOP_OFFER_HOURS", "6")
    rules = Settings(_env_file=None).workshop_rules  # type: ignore[call-arg]
    assert [r.total_seconds() / 3600 for r in rules.reminders] == [48, 24, 2]
    assert rules.offer_window.total_seconds() == 6 * 3600


@pytest.mark.parametrize("hours", ["soon", "24,-1", "0", "9999"])
def test_reminder_hours_that_cannot_be_are_refused(
    monkeypatch: pytest.MonkeyPatch, hours: str
) -> None:
    monkeypatch.setenv("FFS_WORKSHOP_REMINDER_HOURS", hours)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_wechat_aes_key_must_be_wechats_43_characters(monkeypatch) -> None:
    monkeypatch.setenv("WECHAT_AES_KEY", "too-short")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
    monkeypatch.setenv("WECHAT_AES_KEY", "a" * 43)
    monkeypatch.setenv("WECHAT_TEMPLATES", '{"booking": "tmpl-1"}')
    settings = Settings(_env_file=None)
    assert settings.wechat_aes_key is not None and settings.wechat_templates == {
        "booking": "tmpl-1"
    }


@pytest.mark.parametrize("token", ["", "   ", "ab", "has space", "x" * 33])
def test_a_wechat_token_anyone_could_sign_with_is_refused(monkeypatch, token: str) -> None:
    # With an empty token the signature is a hash of the timestamp and nonce alone.
    monkeypatch.setenv("WECHAT_TOKEN", token)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_a_wechat_token_and_compatible_mode_are_read(monkeypatch) -> None:
    monkeypatch.setenv("WECHAT_TOKEN", "wx-test-token")
    settings = Settings(_env_file=None)
    assert settings.wechat_enabled and not settings.wechat_compatible_mode
    monkeypatch.setenv("WECHAT_COMPATIBLE_MODE", "true")
    assert Settings(_env_file=None).wechat_compatible_mode
