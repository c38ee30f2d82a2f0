"""Gateway login accounts in the CRM store: passwords, session tokens, the audit trail."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr, ValidationError
from sqlalchemy import select, update

from tests.conftest import Clock
from tui_caa.crm import CrmStore, passwords
from tui_caa.crm.schema import accounts, audit_log, auth_sessions
from tui_caa.domain import (
    Account,
    Conflict,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    Role,
    Seller,
    SessionExpired,
)

PASSWORD = SecretStr("correct horse battery")
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """Still argon2id, at a test-sized cost (the real one takes ~0.2 s per hash)."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", hasher)
    return hasher


def agent(login: str = "ana", extension: str = "1001", **more: object) -> Account:
    return Account(login=login, role=Role.AGENT, extension=extension, **more)


async def stored_hash(store: CrmStore, login: str) -> str:
    async with store.engine.connect() as conn:
        return (await conn.execute(select(accounts.c.password_hash).where(accounts.c.login == login))).scalar_one()


# ---- accounts and passwords ----

async def test_a_created_account_logs_in_with_its_password(store: CrmStore, clock: Clock) -> None:
    created = await store.create_account(agent(login="Ana.Souza"), PASSWORD)
    assert created.id is not None and created.login == "ana.souza" and created.created_at == clock.now
    assert await store.verify_login("ANA.SOUZA", PASSWORD) == created
    assert await store.account("ana.souza") == created
    assert await store.accounts() == [created]


async def test_unknown_login_wrong_password_and_disabled_account_fail_alike(store: CrmStore) -> None:
    await store.create_account(agent(), PASSWORD)
    await store.create_account(agent(login="bia", extension="1002"), PASSWORD)
    await store.set_account_active("bia", False)
    failures = []
    for login, password in [("ana", SecretStr("wrong password")), ("nobody", PASSWORD), ("bia", PASSWORD),
                            ("x", PASSWORD), ("ana", SecretStr("p" * 5000))]:
        with pytest.raises(InvalidCredentials) as caught:
            await store.verify_login(login, password)
        failures.append(str(caught.value))
    assert set(failures) == {"wrong login or password"}


async def test_an_unknown_login_costs_one_argon2_verification(store: CrmStore, monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: verified.append(h) or real(h, p))
    with pytest.raises(InvalidCredentials):
        await store.verify_login("nobody", PASSWORD)
    assert verified == [passwords.dummy_hash()] and verified[0].startswith("$argon2id$")


async def test_the_stored_hash_is_argon2id_and_never_the_password(store: CrmStore) -> None:
    created = await store.create_account(agent(), PASSWORD)
    digest = await stored_hash(store, "ana")
    assert digest.startswith("$argon2id$") and PASSWORD.get_secret_value() not in digest
    assert "hash" not in repr(created) and "password" not in Account.model_fields


def test_the_production_hasher_keeps_argon2_cffi_defaults() -> None:
    import importlib

    fresh = importlib.reload(passwords)  # the autouse fixture's monkeypatch is undone by the reload
    assert fresh.HASHER.type.name == "ID" and fresh.HASHER.memory_cost == PasswordHasher().memory_cost


async def test_a_hash_made_with_old_parameters_is_upgraded_on_login(store: CrmStore) -> None:
    await store.create_account(agent(), PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD.get_secret_value())
    async with store.engine.begin() as conn:
        await conn.execute(update(accounts).values(password_hash=weak))
    await store.verify_login("ana", PASSWORD)
    upgraded = await stored_hash(store, "ana")
    assert upgraded != weak and "m=1024" in upgraded and not passwords.needs_rehash(upgraded)
    await store.verify_login("ana", PASSWORD)


@pytest.mark.parametrize("password", ["short", "x" * 1025])
async def test_the_password_policy_names_the_password(store: CrmStore, password: str) -> None:
    with pytest.raises(InvalidInput, match="password: must be 8 to 1024 characters") as caught:
        await store.create_account(agent(), SecretStr(password))
    assert caught.value.field == "password" and password not in str(caught.value)
    assert await store.accounts() == []


async def test_a_duplicate_login_is_a_conflict(store: CrmStore) -> None:
    await store.create_account(agent(), PASSWORD)
    with pytest.raises(Conflict, match="login 'ana' already exists"):
        await store.create_account(agent(login="ANA", extension="1002"), PASSWORD)


async def test_unknown_accounts_are_not_found_by_name(store: CrmStore) -> None:
    for call in (store.account("zé"), store.set_password("ze", PASSWORD), store.set_account_active("ze", False),
                 store.revoke_sessions("ze")):
        with pytest.raises(NotFound, match="no account with login"):
            await call


@pytest.mark.parametrize("data, message", [
    ({"login": "a"}, "is not a valid login: use 2 to 64 characters"),
    ({"login": "ana souza"}, "is not a valid login"),
    ({"login": "x" * 65}, "is not a valid login"),
    ({"extension": None}, "an agent needs an extension: give --extension"),
    ({"extension": "1"}, "String should match pattern"),
    ({"role": "boss"}, "Input should be 'agent' or 'supervisor'"),
])
def test_account_validation_messages(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Account.model_validate({"login": "ana", "role": "agent", "extension": "1001"} | data)


def test_a_supervisor_needs_no_extension() -> None:
    assert Account(login="chefe@loja", role="supervisor").extension is None


async def test_an_agent_is_linked_to_the_seller_at_its_extension(store: CrmStore) -> None:
    seller = await store.save_seller(Seller(name="Ana Souza", extension="1001"))
    other = await store.save_seller(Seller(name="Bia", extension="1002"))
    assert (await store.create_account(agent(), PASSWORD)).seller_id == seller.id
    assert (await store.create_account(agent(login="bia", extension="1003", seller_id=other.id), PASSWORD)
            ).seller_id == other.id
    assert (await store.create_account(agent(login="caio", extension="1009"), PASSWORD)).seller_id is None
    with pytest.raises(NotFound, match="seller 99 does not exist"):
        await store.create_account(agent(login="duda", seller_id=99), PASSWORD)


# ---- session tokens ----

async def test_a_session_token_is_stored_only_as_its_hash(store: CrmStore) -> None:
    account = await store.create_account(agent(), PASSWORD)
    token = await store.open_auth_session(account, ttl=HOUR, address="10.0.0.7")
    assert len(token) >= 43
    async with store.engine.connect() as conn:
        [row] = (await conn.execute(select(auth_sessions))).mappings().all()
    assert token not in {str(value) for value in row.values()}
    assert len(row["token_hash"]) == 64
    found, session = await store.auth_session(token)
    assert found == account and session.address == "10.0.0.7" and session.account_id == account.id
    assert "token" not in repr(session)


async def test_a_session_expires_with_the_store_clock(store: CrmStore, clock: Clock) -> None:
    account = await store.create_account(agent(), PASSWORD)
    token = await store.open_auth_session(account, ttl=HOUR, address=None)
    clock.advance(minutes=59)
    await store.auth_session(token)
    clock.advance(minutes=1)
    with pytest.raises(SessionExpired, match="your session has ended; log in again"):
        await store.auth_session(token)
    for bad in ("", "not-a-token", "x" * 10_000):
        with pytest.raises(SessionExpired):
            await store.auth_session(bad)
    assert await store.purge_expired_sessions() == 1
    assert await store.purge_expired_sessions() == 0


async def test_touch_writes_last_seen_at_most_once_a_minute(store: CrmStore, clock: Clock) -> None:
    account = await store.create_account(agent(), PASSWORD)
    start = clock.now
    token = await store.open_auth_session(account, ttl=HOUR, address=None)
    clock.advance(seconds=59)
    assert (await store.auth_session(token))[1].last_seen_at == start
    clock.advance(seconds=1)
    assert (await store.auth_session(token, touch=False))[1].last_seen_at == start
    assert (await store.auth_session(token))[1].last_seen_at == clock.now
    moved = clock.now
    clock.advance(seconds=30)
    assert (await store.auth_session(token))[1].last_seen_at == moved


async def test_logout_is_idempotent(store: CrmStore) -> None:
    account = await store.create_account(agent(), PASSWORD)
    token = await store.open_auth_session(account, ttl=HOUR, address=None)
    await store.close_auth_session(token)
    await store.close_auth_session(token)
    with pytest.raises(SessionExpired):
        await store.auth_session(token)


async def test_revoke_disable_and_a_new_password_end_sessions(store: CrmStore) -> None:
    ana = await store.create_account(agent(), PASSWORD)
    bia = await store.create_account(agent(login="bia", extension="1002"), PASSWORD)
    keep = await store.open_auth_session(bia, ttl=HOUR, address=None)

    tokens = [await store.open_auth_session(ana, ttl=HOUR, address=None) for _ in range(2)]
    assert await store.open_session_counts() == {"ana": 2, "bia": 1}
    assert await store.revoke_sessions("ana") == 2
    assert await store.revoke_sessions("ana") == 0

    token = await store.open_auth_session(ana, ttl=HOUR, address=None)
    await store.set_password("ana", SecretStr("a new password"))
    tokens.append(token)
    await store.verify_login("ana", SecretStr("a new password"))
    with pytest.raises(InvalidCredentials):
        await store.verify_login("ana", PASSWORD)

    token = await store.open_auth_session(ana, ttl=HOUR, address=None)
    await store.set_account_active("ana", False)
    tokens.append(token)
    for ended in tokens:
        with pytest.raises(SessionExpired):
            await store.auth_session(ended)
    await store.auth_session(keep)
    await store.set_account_active("ana", True)
    assert (await store.verify_login("ana", SecretStr("a new password"))).active


async def test_a_disabled_account_cannot_use_a_session_left_open(store: CrmStore) -> None:
    account = await store.create_account(agent(), PASSWORD)
    token = await store.open_auth_session(account, ttl=HOUR, address=None)
    async with store.engine.begin() as conn:  # disabled behind the store's back: still refused
        await conn.execute(update(accounts).values(active=False))
    with pytest.raises(SessionExpired):
        await store.auth_session(token)


async def test_open_auth_session_refuses_a_non_positive_ttl(store: CrmStore) -> None:
    account = await store.create_account(agent(), PASSWORD)
    with pytest.raises(InvalidInput, match="ttl"):
        await store.open_auth_session(account, ttl=timedelta(0), address=None)


async def test_hashing_does_not_block_the_event_loop(store: CrmStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    loop_thread = threading.get_ident()
    threads: list[int] = []
    real = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password", lambda p: threads.append(threading.get_ident()) or real(p))
    await asyncio.gather(store.create_account(agent(), PASSWORD), asyncio.sleep(0))
    assert threads and loop_thread not in threads


# ---- the audit trail ----

async def test_audit_entries_are_newest_first_and_filter_by_login(store: CrmStore, clock: Clock) -> None:
    await store.audit("login", login="ana", address="10.0.0.7")
    clock.advance(seconds=1)
    await store.audit("login_failed", login="Bia", detail="wrong password")
    clock.advance(seconds=1)
    await store.audit("logout", login="ana")
    await store.audit("barge", login="ana", detail="on 1002")  # same second: insertion order decides
    assert [e.kind for e in await store.audit_entries()] == ["barge", "logout", "login_failed", "login"]
    assert [e.kind for e in await store.audit_entries(login="ANA", limit=2)] == ["barge", "logout"]
    [failed] = await store.audit_entries(login="bia")
    assert (failed.login, failed.detail, failed.at) == ("bia", "wrong password", clock.now - timedelta(seconds=1))


async def test_audit_text_is_cut_and_cleaned_of_control_characters(store: CrmStore) -> None:
    await store.audit("login_failed", login="evil\n2026-01-01 login ok\x1b[2J" + "x" * 100,
                      address="10.0.0.1\r\n", detail="a\x00b\u202ec\nd" + "y" * 1000)
    [entry] = await store.audit_entries()
    assert entry.detail.startswith("abc d") and len(entry.detail) == 500
    assert entry.login is not None and len(entry.login) <= 64
    assert all(ch.isprintable() for ch in entry.login + entry.detail + (entry.address or ""))
    assert entry.address == "10.0.0.1"
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(audit_log.c.detail))).scalar_one() == entry.detail


async def test_audit_refuses_a_malformed_kind(store: CrmStore) -> None:
    with pytest.raises(InvalidInput, match="audit kind") as caught:
        await store.audit("Login Failed!")
    assert caught.value.field == "kind"
    with pytest.raises(InvalidInput, match="limit"):
        await store.audit_entries(limit=0)
