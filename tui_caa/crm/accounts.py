"""Gateway logins: accounts with argon2id passwords, hashed expiring session tokens, the audit trail.

Neither a password nor a hash leaves this module: accounts come back as `Account` records, a session
token is handed out once by `open_auth_session` and only its sha256 is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from pydantic import SecretStr, ValidationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import passwords, rows
from tui_caa.crm.base import StoreBase
from tui_caa.crm.schema import accounts, audit_log, auth_sessions, sellers
from tui_caa.domain import (
    Account,
    AuditEntry,
    AuthSession,
    Conflict,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    SessionExpired,
)
from tui_caa.domain.accounts import LOGIN_PATTERN, normalize_login, printable

PASSWORD_MIN, PASSWORD_MAX = 8, 1024
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is a hint, not worth a write per request
_TOKEN_MAX = 256  # token_urlsafe(32) is 43 characters; anything far longer is not ours
_ACCOUNT_COLUMNS = [c for c in accounts.c if c.name != "password_hash"]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _checked_password(password: SecretStr) -> str:
    value = password.get_secret_value()
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInput(f"password: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long", field="password")
    return value


class AccountOps(StoreBase):
    # ---- accounts ----
    async def create_account(self, account: Account, password: SecretStr) -> Account:
        """A new login. With no seller given, it is linked to the seller at its extension, if any."""
        digest = await asyncio.to_thread(passwords.hash_password, _checked_password(password))
        try:
            async with self._write() as conn:
                if await self._account_id(conn, account.login) is not None:
                    raise _login_taken(account.login)
                seller_id = account.seller_id
                if seller_id is not None:
                    await self._require(conn, sellers, seller_id, "seller_id")
                elif account.extension is not None:
                    seller_id = (await conn.execute(
                        select(sellers.c.id).where(sellers.c.extension == account.extension)
                    )).scalar()
                created = account.model_copy(update={"seller_id": seller_id, "created_at": self.clock()})
                values = created.model_dump(exclude={"id"}) | {"password_hash": digest}
                account_id = (await conn.execute(insert(accounts).values(**values))).inserted_primary_key[0]
        except IntegrityError as exc:  # two admins adding the same login at once
            raise _login_taken(account.login) from exc
        return created.model_copy(update={"id": account_id})

    async def accounts(self) -> list[Account]:
        async with self._read() as conn:
            result = await conn.execute(select(*_ACCOUNT_COLUMNS).order_by(accounts.c.login))
            return [rows.account(row) for row in result.mappings()]

    async def account(self, login: str) -> Account:
        async with self._read() as conn:
            row = (await conn.execute(
                select(*_ACCOUNT_COLUMNS).where(accounts.c.login == normalize_login(login))
            )).mappings().first()
        if row is None:
            raise _no_account(login)
        return rows.account(row)

    async def set_password(self, login: str, password: SecretStr) -> None:
        """A new password ends every session of the account: whoever knew the old one is out."""
        digest = await asyncio.to_thread(passwords.hash_password, _checked_password(password))
        async with self._write() as conn:
            account_id = await self._existing_account_id(conn, login)
            await conn.execute(update(accounts).where(accounts.c.id == account_id).values(password_hash=digest))
            await conn.execute(delete(auth_sessions).where(auth_sessions.c.account_id == account_id))

    async def set_account_active(self, login: str, active: bool) -> None:
        """Disabling ends the account's sessions at once, not when they expire."""
        async with self._write() as conn:
            account_id = await self._existing_account_id(conn, login)
            await conn.execute(update(accounts).where(accounts.c.id == account_id).values(active=active))
            if not active:
                await conn.execute(delete(auth_sessions).where(auth_sessions.c.account_id == account_id))

    async def open_session_counts(self) -> dict[str, int]:
        """Login -> sessions not yet expired (for `tui-caa user list`)."""
        async with self._read() as conn:
            result = await conn.execute(
                select(accounts.c.login, func.count(auth_sessions.c.id))
                .join(auth_sessions, auth_sessions.c.account_id == accounts.c.id)
                .where(auth_sessions.c.expires_at > self.clock())
                .group_by(accounts.c.login)
            )
            return {login: count for login, count in result}

    # ---- logging in ----
    async def verify_login(self, login: str, password: SecretStr) -> Account:
        """The account, if the password is right and the account active; else InvalidCredentials,
        after the same argon2 work whatever was wrong (timing tells nothing)."""
        given = password.get_secret_value()
        name = normalize_login(login)
        row = None
        if LOGIN_PATTERN.fullmatch(name) and len(given) <= PASSWORD_MAX:  # else no account can match
            async with self._read() as conn:
                row = (await conn.execute(select(accounts).where(accounts.c.login == name))).mappings().first()
        # the dummy hash is made once per process, at argon2's cost: off the event loop too
        stored = await asyncio.to_thread(passwords.dummy_hash) if row is None else row["password_hash"]
        right = await asyncio.to_thread(passwords.verify_password, stored, given[:PASSWORD_MAX])
        if row is None or not right or not row["active"]:
            raise InvalidCredentials()
        if passwords.needs_rehash(stored):
            await self._rehash(row["id"], stored, given)
        return rows.account(row)

    async def _rehash(self, account_id: int, old_hash: str, password: str) -> None:
        digest = await asyncio.to_thread(passwords.hash_password, password)
        async with self._write() as conn:
            # only if nobody changed the password meanwhile
            await conn.execute(update(accounts).where(accounts.c.id == account_id,
                                                      accounts.c.password_hash == old_hash)
                               .values(password_hash=digest))

    async def open_auth_session(self, account: Account, *, ttl: timedelta, address: str | None) -> str:
        """A new login token for `account`, valid for `ttl`. The caller gets the only copy."""
        if account.id is None:
            raise InvalidInput("account: save the account before opening a session for it", field="account")
        if ttl <= timedelta(0):
            raise InvalidInput("ttl: a session must last a positive time", field="ttl")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        values = {"account_id": account.id, "token_hash": token_digest(token), "created_at": now,
                  "expires_at": now + ttl, "last_seen_at": now, "address": _address(address)}
        try:
            async with self._write() as conn:
                await conn.execute(insert(auth_sessions).values(**values))
        except IntegrityError as exc:
            raise _no_account(account.login) from exc
        return token

    async def auth_session(self, token: str, *, touch: bool = True) -> tuple[Account, AuthSession]:
        """Who holds `token`; SessionExpired if it is unknown, expired, or its account disabled."""
        if not token or len(token) > _TOKEN_MAX:
            raise SessionExpired()
        account_columns = [c.label(f"acct__{c.name}") for c in _ACCOUNT_COLUMNS]
        async with self._read() as conn:
            row = (await conn.execute(
                select(auth_sessions, *account_columns)
                .join(accounts, accounts.c.id == auth_sessions.c.account_id)
                .where(auth_sessions.c.token_hash == token_digest(token))
            )).mappings().first()
        now = self.clock()
        if row is None or row["expires_at"] <= now or not row["acct__active"]:
            raise SessionExpired()
        session = rows.auth_session(row)
        account = rows.account({c.name: row[f"acct__{c.name}"] for c in _ACCOUNT_COLUMNS})
        if touch and now - session.last_seen_at >= TOUCH_EVERY:
            async with self._write() as conn:
                await conn.execute(update(auth_sessions).where(auth_sessions.c.id == session.id)
                                   .values(last_seen_at=now))
            session = session.model_copy(update={"last_seen_at": now})
        return account, session

    async def close_auth_session(self, token: str) -> None:
        """Logout. Closing a closed (or never opened) session is not an error."""
        if not token or len(token) > _TOKEN_MAX:
            return
        async with self._write() as conn:
            await conn.execute(delete(auth_sessions).where(auth_sessions.c.token_hash == token_digest(token)))

    async def revoke_sessions(self, login: str) -> int:
        """Ends every session of the account; returns how many there were."""
        async with self._write() as conn:
            account_id = await self._existing_account_id(conn, login)
            result = await conn.execute(delete(auth_sessions).where(auth_sessions.c.account_id == account_id))
            return result.rowcount

    async def purge_expired_sessions(self) -> int:
        async with self._write() as conn:
            result = await conn.execute(delete(auth_sessions).where(auth_sessions.c.expires_at <= self.clock()))
            return result.rowcount

    # ---- the audit trail ----
    async def audit(self, kind: str, *, login: str | None = None, address: str | None = None,
                    detail: str = "") -> None:
        """One line in the audit trail; free text is cut to size and stripped of control characters."""
        try:
            entry = AuditEntry(at=self.clock(), kind=kind, login=login, address=address, detail=detail)
        except ValidationError as exc:  # only `kind` can be wrong: the rest is cleaned, not refused
            raise InvalidInput(exc.errors()[0]["msg"].removeprefix("Value error, "), field="kind") from None
        async with self._write() as conn:
            await conn.execute(insert(audit_log).values(**entry.model_dump(exclude={"id"})))

    async def audit_entries(self, limit: int = 100, *, login: str | None = None) -> list[AuditEntry]:
        """The latest entries, newest first; only one login's when `login` is given."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit: give 1 to 10000 entries", field="limit")
        query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        if login is not None:
            query = query.where(audit_log.c.login == normalize_login(login))
        async with self._read() as conn:
            return [rows.audit_entry(row) for row in (await conn.execute(query)).mappings()]

    # ---- helpers ----
    async def _account_id(self, conn: AsyncConnection, login: str) -> int | None:
        return (await conn.execute(select(accounts.c.id).where(accounts.c.login == normalize_login(login)))).scalar()

    async def _existing_account_id(self, conn: AsyncConnection, login: str) -> int:
        account_id = await self._account_id(conn, login)
        if account_id is None:
            raise _no_account(login)
        return account_id


def _address(address: str | None) -> str | None:
    return None if address is None else printable(address, 64).strip() or None


def _login_taken(login: str) -> Conflict:
    return Conflict(f"login '{login}' already exists: choose another, or change its password with "
                    f"`tui-caa user passwd {login}`", field="login")


def _no_account(login: str) -> NotFound:
    return NotFound(f"no account with login '{normalize_login(login)[:64]}' (see `tui-caa user list`)",
                    field="login")
