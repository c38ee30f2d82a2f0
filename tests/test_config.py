from pathlib import Path

import pytest

from tui_caa import locations
from tui_caa.config import ConfigError, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file() -> None:
    settings = load_settings()
    assert settings.role == "agent" and settings.ddd is None
    assert settings.database.url == locations.default_database_url()
    assert str(locations.data_dir()) in settings.database.url


def test_file_in_user_config_dir_is_read() -> None:
    locations.config_file().parent.mkdir(parents=True)
    write(locations.config_file(), 'ddd = "51"\nrole = "supervisor"\n')
    settings = load_settings()
    assert (settings.ddd, settings.role) == ("51", "supervisor")


def test_site_ddd_fills_dialing_and_caller_id_rules(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'ddd = "51"\n[dialing]\nexternal_prefix = "0"\ncarrier_code = "21"\n')
    settings = load_settings(path)
    assert settings.dialing.site_ddd == "51" and settings.caller_id.default_ddd == "51"
    assert settings.dialing.external_prefix == "0" and settings.dialing.carrier_code == "21"


def test_environment_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "c.toml", 'ddd = "51"\nextension = "1001"\n[dialing]\ncarrier_code = "21"\n')
    monkeypatch.setenv("TUI_CAA_DDD", "11")
    monkeypatch.setenv("TUI_CAA_DIALING__CARRIER_CODE", "15")
    settings = load_settings(path)
    assert (settings.ddd, settings.extension, settings.dialing.carrier_code) == ("11", "1001", "15")


def test_config_file_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_CAA_CONFIG_FILE", str(write(tmp_path / "x.toml", 'role = "supervisor"\n')))
    assert load_settings().role == "supervisor"


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*missing.toml does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'ddd = "51"\nrole = agent\n')
    with pytest.raises(ConfigError, match=r"c.toml is not valid TOML: .*line 2"):
        load_settings(path)


def test_every_bad_key_is_named_with_its_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'rol = "agent"\nddd = "20"\n[dialing]\ncarrier_code = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "unknown key 'rol'; did you mean 'role'?" in message
    assert "key 'ddd': ddd '20' is not a Brazilian area code" in message
    assert "key 'dialing.carrier_code'" in message
    assert str(path) in message and "Traceback" not in message


def test_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_CAA_ROLE", "boss")
    with pytest.raises(ConfigError, match="environment variable TUI_CAA_ROLE: key 'role'"):
        load_settings()


def test_database_password_is_kept_out_of_the_url(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[database]\nurl = "mysql+aiomysql://crm:s3cret@db.local/crm"\n')
    settings = load_settings(path)
    assert settings.database.url == "mysql+aiomysql://crm@db.local/crm"
    assert "s3cret" not in repr(settings)
    assert settings.database.connect_url() == "mysql+aiomysql://crm:s3cret@db.local/crm"


def test_bad_database_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key 'database': 'nonsense' is not a database URL"):
        load_settings(write(tmp_path / "c.toml", '[database]\nurl = "nonsense"\n'))


def test_pbx_family_settings_come_from_their_own_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[pbx.asterisk]\ntrunk_contexts = ["entrada-tronco"]\ndial_context = "ramais"\n')
    settings = load_settings(path)
    assert settings.pbx.asterisk.trunk_contexts == ("entrada-tronco",)
    assert settings.pbx.for_kind("asterisk")["dial_context"] == "ramais"
    assert settings.pbx.for_kind("simulator") == {}


def test_a_typo_in_a_pbx_table_is_named_with_the_fix(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[pbx.asterisk]\ntrunk_context = ["x"]\nchannel_pattern = "^PJSIP/(\\\\d+)-"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert "unknown key 'pbx.asterisk.trunk_context'; did you mean 'trunk_contexts'?" in message
    assert "key 'pbx.asterisk.channel_pattern': needs a group named ext" in message


def test_an_asterisk_command_setting_that_cannot_work_is_caught_when_the_config_is_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[pbx.asterisk]\nhold_method = "park"\nparking_enabled = false\n')
    with pytest.raises(ConfigError, match="hold_method 'park' needs parking_enabled = true"):
        load_settings(path)


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///crm.sqlite3", "sqlite:///", "sqlite+aiosqlite:////a@b/c:d",
                                 "sqlite+aiosqlite:///ç/ã.db"])
def test_file_urls_checked_without_sqlalchemy_are_ones_it_accepts_without_a_password(url):
    """config.py skips SQLAlchemy for these (a remote console never loads it): SQLAlchemy agrees."""
    from sqlalchemy.engine import make_url

    from tui_caa.config import _PLAIN_FILE_URL, DatabaseSettings

    assert _PLAIN_FILE_URL.fullmatch(url)
    assert make_url(url).password is None
    assert DatabaseSettings(url=url).url == url
