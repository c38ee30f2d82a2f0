"""Secrets at rest (issue 11, item 3): PBX secrets and extension passwords encrypted in the CRM with
a site key kept outside it, `db rotate-key`, private file modes, and no secret in any output."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tui_caa import locations, logs
from tui_caa.config import load_settings
from tui_caa.crm import open_store, sitekey

AMI_SECRET = "Ami-S3cret-7741"
EXT_PASSWORD = "Ramal-Pw-99120"
MYSQL_PASSWORD = "MySql-Pw-5531"


@pytest.fixture(autouse=True)
def restore_umask():  # type: ignore[no-untyped-def]
    """main() sets the process's umask; the other tests keep theirs."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.fixture(autouse=True)
def cli_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """tui-caa in-process, with the CRM where the embedded default keeps it (the data folder)."""
    monkeypatch.setenv("TUI_CAA_DDD", "51")


def crm_file() -> Path:
    return locations.data_dir() / "crm.sqlite3"


def raw_bytes() -> bytes:
    """Everything SQLite holds on disk: the file, its write-ahead log and shared memory."""
    path = crm_file()
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def stored():  # type: ignore[no-untyped-def]
    async def read():  # type: ignore[no-untyped-def]
        settings = load_settings()
        store = await open_store(settings.database.connect_url(), settings.caller_id)
        try:
            return await store.pbx_entries(), await store.sellers()
        finally:
            await store.close()

    return asyncio.run(read())


def setup_site(run) -> None:  # type: ignore[no-untyped-def]
    assert run("db", "init").returncode == 0
    result = run("pbx", "register", "--name", "Matriz", "--pbx", "asterisk", "--host", "127.0.0.1",
                 "--port", "1", "--ask-secret", stdin=AMI_SECRET + "\n")
    assert result.returncode == 0, result.stderr
    result = run("seller", "set", "--extension", "1001", "--name", "Ana Souza", "--ask-password",
                 stdin=EXT_PASSWORD + "\n")
    assert result.returncode == 0, result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_crm_file_holds_no_secret_in_clear_and_the_records_read_them_back(run) -> None:
    setup_site(run)
    raw = raw_bytes()
    assert AMI_SECRET.encode() not in raw and EXT_PASSWORD.encode() not in raw
    assert sitekey.PREFIX.encode() in raw
    [entry], [seller] = stored()
    assert entry.secret.get_secret_value() == AMI_SECRET
    assert seller.extension_password.get_secret_value() == EXT_PASSWORD
    with sqlite3.connect(crm_file()) as db:
        [(column,)] = db.execute("SELECT secret FROM pbx_registry").fetchall()
    assert column.startswith("enc1:") and len(column) < 1024


def test_encrypt_and_decrypt_round_trip_and_a_legacy_clear_value_passes() -> None:
    key = sitekey.SiteKey(sitekey.new_key(), "a test key")
    for text in ("", "x", "ç" * 128, "\U0001F600" * 128):
        sealed = key.encrypt(text)
        assert sealed.startswith("enc1:") and len(sealed) <= 1024
        assert key.decrypt(sealed) == text
    assert key.decrypt("old clear value") == "old clear value"
    other = sitekey.SiteKey(sitekey.new_key(), "another key")
    with pytest.raises(sitekey.SiteKeyError, match="does not decrypt"):
        other.decrypt(key.encrypt("s"))


def test_db_init_makes_a_private_key_file_once(run) -> None:
    first = run("db", "init")
    assert "site key: made" in first.stdout
    assert mode(sitekey.key_file()) == 0o600 and mode(sitekey.key_file().parent) == 0o700
    key = sitekey.key_file().read_bytes()
    assert key.decode().strip() not in first.stdout + first.stderr
    again = run("db", "init")
    assert "site key: the key file" in again.stdout and sitekey.key_file().read_bytes() == key


@pytest.mark.parametrize("damage", ["missing", "wrong", "garbage"])
def test_a_missing_or_wrong_key_is_one_clear_line_naming_the_fix(run, damage: str) -> None:
    setup_site(run)
    if damage == "missing":
        sitekey.key_file().unlink()
    else:
        sitekey.key_file().write_bytes(sitekey.new_key() if damage == "wrong" else b"not a key")
    for args in (["pbx", "list"], ["seller", "list"], ["pbx", "check"]):
        result = run(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "tui-caa db init" in result.stderr and "copy the site key from the gateway's server" in result.stderr
        assert "Traceback" not in result.stderr
        assert AMI_SECRET not in result.stdout + result.stderr
    if damage == "missing":
        assert "TUI_CAA_SITE_KEY" in result.stderr and str(sitekey.key_file()) in result.stderr
    # a seller saved now must not be encrypted with a key the gateway cannot read either
    result = run("seller", "set", "--extension", "1002", "--name", "Bia", "--ask-password", stdin="pw2\n")
    assert result.returncode == 1 and "copy the site key" in result.stderr


def test_a_legacy_clear_secret_is_read_then_encrypted_by_rotate_key(run) -> None:
    setup_site(run)
    db = sqlite3.connect(crm_file())  # as an older tui-caa wrote it
    with db:
        db.execute("UPDATE pbx_registry SET secret = 'legacy-clear-secret', mysql_password = ?", (MYSQL_PASSWORD,))
    db.close()
    [entry], _ = stored()
    assert entry.secret.get_secret_value() == "legacy-clear-secret"
    old_key = sitekey.key_file().read_bytes()
    result = run("db", "rotate-key")
    assert result.returncode == 0, result.stderr
    assert "3 secret value(s) re-encrypted" in result.stdout
    assert "site.key.old" in result.stdout
    raw = raw_bytes()
    assert b"legacy-clear-secret" not in raw and MYSQL_PASSWORD.encode() not in raw
    [entry], [seller] = stored()
    assert entry.secret.get_secret_value() == "legacy-clear-secret"
    assert entry.mysql_password.get_secret_value() == MYSQL_PASSWORD
    assert seller.extension_password.get_secret_value() == EXT_PASSWORD
    assert sitekey.old_key_file().read_bytes() == old_key != sitekey.key_file().read_bytes()
    assert mode(sitekey.old_key_file()) == 0o600 and mode(sitekey.key_file()) == 0o600
    assert not sitekey.key_file().with_name("site.key.next").exists()


def test_rotate_key_keeps_every_demo_secret_readable(run) -> None:
    assert run("db", "init").returncode == 0
    assert run("db", "demo", "--customers", "20").returncode == 0
    _, before = stored()
    result = run("db", "rotate-key")
    assert result.returncode == 0, result.stderr
    _, after = stored()
    assert [s.extension_password.get_secret_value() for s in after] == \
        [s.extension_password.get_secret_value() for s in before]
    assert f"{len(before)} secret value(s)" in result.stdout


def test_with_the_key_from_the_environment_rotate_key_needs_the_new_key_file(
        run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = sitekey.new_key()
    monkeypatch.setenv("TUI_CAA_SITE_KEY", key.decode())
    setup_site(run)
    assert not sitekey.key_file().exists()
    refused = run("db", "rotate-key")
    assert refused.returncode == 1 and "--new-key-file" in refused.stderr and key.decode() not in refused.stderr
    result = run("db", "rotate-key", "--new-key-file", str(tmp_path / "new.key"))
    assert result.returncode == 0, result.stderr
    assert "TUI_CAA_SITE_KEY" in result.stdout and mode(tmp_path / "new.key") == 0o600
    monkeypatch.setenv("TUI_CAA_SITE_KEY", (tmp_path / "new.key").read_text().strip())
    [entry], _ = stored()
    assert entry.secret.get_secret_value() == AMI_SECRET


def test_a_systemd_credential_is_a_site_key(run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / sitekey.CREDENTIAL).write_bytes(sitekey.new_key())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    setup_site(run)
    assert not sitekey.key_file().exists()
    assert "systemd credential" in run("db", "init").stdout


def test_every_file_tui_caa_makes_is_private(run) -> None:
    assert run("db", "init").returncode == 0
    assert run("db", "demo", "--customers", "20").returncode == 0
    setup_site(run)
    # what a gateway does besides: its outbox, and (a console) its log file
    from tui_caa.gateway.outbox import Outbox

    outbox = Outbox(locations.data_dir() / "outbox.sqlite3")
    crm = sqlite3.connect(crm_file())  # the CRM open and written, as by a gateway: its -wal and -shm exist
    crm.execute("UPDATE settings SET value = value")
    log_path = logs.to_file()
    logging.getLogger("tui_caa.test").warning("a line")
    try:
        folder = locations.data_dir()
        files = [crm_file(), Path(f"{crm_file()}-wal"), Path(f"{crm_file()}-shm"),
                 folder / "outbox.sqlite3", folder / "outbox.sqlite3-wal", sitekey.key_file(), log_path]
        for path in files:
            assert path.exists() and mode(path) == 0o600, (path, oct(mode(path)))
        for path in (folder, log_path.parent):
            assert mode(path) == 0o700, (path, oct(mode(path)))
    finally:
        crm.close()
        outbox.close() if hasattr(outbox, "close") else None
        logging.getLogger().handlers.clear()


def test_files_an_older_version_left_readable_are_made_private(run) -> None:
    setup_site(run)
    outbox = locations.data_dir() / "outbox.sqlite3"
    outbox.write_bytes(b"")
    for path in (crm_file(), outbox, sitekey.key_file()):
        path.chmod(0o644)
    assert run("db", "telephony").returncode == 0
    for path in (crm_file(), outbox, sitekey.key_file()):
        assert mode(path) == 0o600, path


def test_secrets_are_never_shown(run, monkeypatch: pytest.MonkeyPatch) -> None:
    setup_site(run)
    run("pbx", "register", "--name", "Matriz", "--ask-mysql-password", stdin=MYSQL_PASSWORD + "\n")
    outputs = [run("pbx", "list"), run("seller", "list"), run("pbx", "check"), run("db", "init"),
               run("db", "rotate-key")]
    sitekey.key_file().write_bytes(sitekey.new_key())  # a wrong key: every reader fails
    outputs += [run("pbx", "list"), run("seller", "list"), run("pbx", "check"), run("db", "rotate-key")]
    monkeypatch.setenv("TUI_CAA_SITE_KEY", "not-a-key-" + AMI_SECRET)
    outputs += [run("pbx", "list"), run("db", "rotate-key")]
    text = "".join(r.stdout + r.stderr for r in outputs)
    logs_text = "".join(p.read_text(errors="replace") for p in locations.data_dir().rglob("*.log*"))
    assert "Traceback" not in text
    for secret in (AMI_SECRET, EXT_PASSWORD, MYSQL_PASSWORD):
        assert secret not in text and secret not in logs_text
