"""The site key: what encrypts the secrets the gateway sends to the PBX (AMI secret, API keys,
extension passwords) in the CRM. It is kept outside the database, so that a copy of the database
alone (a backup, a stolen file) does not give them away.

Looked for in this order: the environment variable TUI_CAA_SITE_KEY, a systemd credential
(`LoadCredential=tui-caa-site-key:…` puts it in $CREDENTIALS_DIRECTORY), the key file `site.key`
in the data folder (made by `tui-caa db init`). No message here ever contains a key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tui_caa import locations
from tui_caa.domain.errors import DomainError

KEY_ENV = "TUI_CAA_SITE_KEY"
CREDENTIAL = "tui-caa-site-key"
PREFIX = "enc1:"  # the version of the format: a later one can change the cipher
FIX = "run `tui-caa db init` on this machine, or copy the site key from the gateway's server"


class SiteKeyError(DomainError):
    """No site key, or one that does not fit this CRM. The message says where it looked and the fix."""


def key_file() -> Path:
    return locations.data_dir() / "site.key"


def old_key_file() -> Path:
    return locations.data_dir() / "site.key.old"


def _credential_file() -> Path | None:
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(folder) / CREDENTIAL if folder else None


@dataclass(frozen=True)
class SiteKey:
    """A key and where it came from ("the key file /…/site.key"), for messages."""

    key: bytes
    where: str
    path: Path | None = None  # the key file, when it came from the data folder

    @property
    def from_file(self) -> bool:
        return self.path is not None and self.path == key_file()

    def _fernet(self) -> Fernet:
        try:
            return Fernet(self.key)
        except (ValueError, TypeError):
            raise SiteKeyError(f"the site key in {self.where} is not a tui-caa site key "
                               f"(44 characters of URL-safe base64); {FIX}") from None

    def encrypt(self, text: str) -> str:
        return PREFIX + self._fernet().encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The clear text of a stored value; a value without the prefix was stored in clear by an
        older tui-caa and is returned as it is."""
        if not is_encrypted(stored):
            return stored
        try:
            return self._fernet().decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SiteKeyError(f"the site key in {self.where} does not decrypt the secrets stored in "
                               f"this CRM (they were encrypted with another key); {FIX}") from None


def is_encrypted(stored: str | None) -> bool:
    return stored is not None and stored.startswith(PREFIX)


def where_looked() -> str:
    credential = _credential_file()
    places = [f"the environment variable {KEY_ENV}",
              f"the systemd credential {credential}" if credential else
              f"a systemd credential {CREDENTIAL} (no $CREDENTIALS_DIRECTORY)",
              f"the key file {key_file()}"]
    return ", ".join(places)


def find() -> SiteKey | None:
    """The site key of this machine, or None if there is none anywhere."""
    value = os.environ.get(KEY_ENV, "").strip()
    if value:
        return SiteKey(value.encode("ascii", "replace"), f"the environment variable {KEY_ENV}")
    credential = _credential_file()
    if credential is not None and credential.is_file():
        return read_key_file(credential, f"the systemd credential {credential}")
    path = key_file()
    if path.is_file():
        locations.tighten(path)
        return read_key_file(path, f"the key file {path}")
    return None


def load() -> SiteKey:
    key = find()
    if key is None:
        raise SiteKeyError(f"no site key to read the secrets stored in the CRM: looked in {where_looked()}; {FIX}")
    return key


def read_key_file(path: Path, where: str | None = None) -> SiteKey:
    where = where or f"the key file {path}"
    try:
        return SiteKey(path.read_bytes()[:200].strip(), where, path)
    except OSError as exc:
        raise SiteKeyError(f"cannot read {where} ({exc.strerror}); {FIX}") from None


def new_key() -> bytes:
    return Fernet.generate_key()


def write_key_file(key: bytes, path: Path | None = None) -> SiteKey:
    """Writes a key file 0600 in a 0700 folder, atomically: a reader sees the old key or the new one."""
    path = path or key_file()
    locations.private_dir(path.parent)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return SiteKey(key, f"the key file {path}", path)


def ensure_key_file() -> tuple[SiteKey, bool]:
    """This machine's site key, a new key file if there is none anywhere. True if it was made."""
    key = find()
    if key is not None:
        return key, False
    return write_key_file(new_key()), True
