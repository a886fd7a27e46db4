"""Settings from the environment, the errors an operator sees, and the CLI's refusal to start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import cli
from bot.settings import ConfigError, load_settings

TOKEN = "7000000001:AAH-very-secret-token-value"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No VRAAGBAAK_* from the machine and no real .env: every test starts from defaults."""
    for name in list(os.environ):
        if name.startswith("VRAAGBAAK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("./data")
    assert settings.default_locale == "nl"
    assert settings.timezone == "Europe/Amsterdam"
    assert settings.zone.key == "Europe/Amsterdam"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.bot_base_url == "https://api.telegram.org/bot"
    assert settings.bot_file_url == "https://api.telegram.org/file/bot"
    assert settings.telegram_token is None
    assert settings.redis_url is None
    assert settings.admin_ids == []


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VRAAGBAAK_DEFAULT_LOCALE=en\n", encoding="utf-8")
    assert load_settings().default_locale == "en"


def test_admin_ids_are_split_on_commas_and_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRAAGBAAK_ADMIN_IDS", "1,2, 3")
    assert load_settings().admin_ids == [1, 2, 3]


@pytest.mark.parametrize("url", ["http://localhost:8081/bot", "http://localhost:8081/bot/",
                                 "http://localhost:8081", "http://localhost:8081/"])
def test_self_hosted_api_url_is_normalised(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("VRAAGBAAK_TELEGRAM_API_URL", url)
    settings = load_settings()
    assert settings.telegram_api_url == "http://localhost:8081"
    assert settings.bot_base_url == "http://localhost:8081/bot"
    assert settings.bot_file_url == "http://localhost:8081/file/bot"


@pytest.mark.parametrize(("name", "value"), [
    ("VRAAGBAAK_ADMIN_IDS", "abc"),
    ("VRAAGBAAK_TIMEZONE", "Mars/Base"),
    ("VRAAGBAAK_DEFAULT_LOCALE", "fr"),
    ("VRAAGBAAK_REDIS_URL", "http://x"),
    ("VRAAGBAAK_TELEGRAM_API_URL", "api.telegram.org"),
    ("VRAAGBAAK_MAX_CONCURRENT_CHATS", "0"),
])
def test_malformed_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert message.startswith(f"{name}:"), message
    assert "\n" not in message


def test_token_is_secret_and_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRAAGBAAK_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("VRAAGBAAK_SECRET_KEY", "pseudonym-key-value")
    settings = load_settings()
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN
    for shown in (repr(settings), str(settings)):
        assert "very-secret" not in shown
        assert "pseudonym-key-value" not in shown


def test_sqlalchemy_url_defaults_to_sqlite_under_data_dir(tmp_path: Path) -> None:
    url = load_settings().sqlalchemy_url
    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'data' / 'vraagbaak.db'}"


@pytest.mark.parametrize("given", ["postgresql://u:p@h/db", "postgres://u:p@h/db"])
def test_sqlalchemy_url_uses_asyncpg_for_postgres(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("VRAAGBAAK_DATABASE_URL", given)
    assert load_settings().sqlalchemy_url == "postgresql+asyncpg://u:p@h/db"


def test_run_without_token_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "VRAAGBAAK_TELEGRAM_TOKEN" in lines[0]


def test_run_with_malformed_setting_exits_2_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRAAGBAAK_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("VRAAGBAAK_ADMIN_IDS", "abc")
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["run"])
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "VRAAGBAAK_ADMIN_IDS" in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["demo", "sandbox"])
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "desk.example.org"])
def test_the_sandbox_is_not_exposed_beyond_this_machine_unless_asked(
    capsys: pytest.CaptureFixture[str], command: str, host: str,
) -> None:
    assert cli.main([command, "--host", host]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"refusing to serve the sandbox on {host}" in err
    assert "--expose-sandbox" in err and len(err.splitlines()) == 1
    exposed = cli.build_parser().parse_args([command, "--host", host, "--expose-sandbox"])
    assert not cli.sandbox_exposure_refused(exposed)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_need_no_flag(host: str) -> None:
    assert not cli.sandbox_exposure_refused(cli.build_parser().parse_args(["demo", "--host",
                                                                           host]))


def test_multi_instance_mode_refuses_the_single_machine_parts(tmp_path) -> None:
    base = {"data_dir": tmp_path, "instances": "multi"}
    with pytest.raises(ConfigError, match=r"^instances=multi needs VRAAGBAAK_SECRET_KEY"):
        load_settings(**base)
    base["secret_key"] = "shared"
    with pytest.raises(ConfigError, match="embedded Redis serves one instance"):
        load_settings(**base)
    base["redis_sentinels"] = "10.0.0.1:26379, 10.0.0.2:26379"
    with pytest.raises(ConfigError, match="SQLite serves one instance"):
        load_settings(**base)
    with pytest.raises(ConfigError, match="SQLite serves one instance"):
        load_settings(**base, database_url="sqlite:///x.db")
    ready = load_settings(**base, database_url="postgresql://u:p@db/vraagbaak")
    assert ready.redis_sentinels == ["10.0.0.1:26379", "10.0.0.2:26379"]
    assert ready.instance != load_settings(**base, database_url="postgresql://db/v",
                                           instance_id="app-2").instance
    with pytest.raises(ConfigError, match=r"^VRAAGBAAK_REDIS_SENTINELS: .*not host:port"):
        load_settings(data_dir=tmp_path, redis_sentinels="sentinel-without-port")
