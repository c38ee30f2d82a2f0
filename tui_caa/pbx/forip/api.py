"""ForIP Manager's "Integração CRM" API over httpx: `login_crm` and `disca_crm`.

Two kinds of failure are kept apart because the driver reacts differently:
- `ApiDown`: the API could not be reached or answered nonsense (refused connection, timeout,
  HTTP error status, a body that is not a JSON object). The link is down; for a dial the outcome is
  unknown (`outcome_unknown`), so it is never sent again;
- `ApiRefused`: ForIP answered `{"error": …}`. The outcome is known: nothing happened.
An `{"error": …}` about the api_key (expired or invalid) makes `call` log in again once and repeat
that one request: ForIP refused it, so repeating cannot place a call twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from typing import Any

import httpx
from pydantic import SecretStr

from tui_caa.pbx.base import PbxError
from tui_caa.pbx.limits import IDENTITY, JSON_REPLY_BYTES, LimitLog, ReplyTooLarge, request_capped

log = logging.getLogger(__name__)


class ApiDown(PbxError):
    """The CRM API is unreachable or answered something that is not ForIP's JSON."""

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message, field="address")
        self.outcome_unknown = outcome_unknown


class ApiTooLarge(ApiDown, ReplyTooLarge):
    """A reply past JSON_REPLY_BYTES: a protocol error, the link is treated as lost."""


class ApiRefused(PbxError):
    """ForIP answered {"error": …}."""

    def __init__(self, message: str, error: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.error = error


class ForipApi:
    def __init__(self, base_url: str, email: str, password: SecretStr, *, timeout: float,
                 key_error_pattern: str = r"api[_ ]?key", label: str = "ForIP") -> None:
        self.base_url = base_url.rstrip("/")
        self.email = email
        self._password = password
        self.label = label
        self._key_error = re.compile(key_error_pattern, re.IGNORECASE)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                       headers={"Accept": "application/json", **IDENTITY})
        self._api_key: SecretStr | None = None
        self._login_lock = asyncio.Lock()
        self.agent: dict[str, Any] = {}  # what login_crm said about us (email, name, id)
        self.logins = 0
        # bad_json, http_status, timeout, unreachable, refused, key_renewed, too_large
        self.errors: Counter[str] = Counter()
        self.limits = LimitLog(log)  # replies too large: logged once, then rate-limited

    def __repr__(self) -> str:
        return f"ForipApi({self.base_url!r}, {self.email!r})"

    @property
    def logged_in(self) -> bool:
        return self._api_key is not None

    async def close(self) -> None:
        await self._http.aclose()

    # ---- the two endpoints ----

    async def login(self) -> None:
        """POST login_crm (email, senha); keeps the api_key it returns."""
        async with self._login_lock:
            data = await self._post("login_crm", {"email": self.email, "senha": self._password.get_secret_value()},
                                    what="log in")
            key = data.get("api_key")
            if not isinstance(key, str) or not key:
                self.errors["bad_json"] += 1
                raise ApiDown(f"{self.label}'s login_crm answered without an api_key ({_keys(data)}): "
                              "is the address the ForIP CRM API (…/admanager/crm)?")
            self._api_key = SecretStr(key)
            self.agent = {k: data[k] for k in ("email", "name", "id") if k in data}
            self.logins += 1

    async def dial(self, agent: str, phone: str, ts: int) -> str:
        """disca_crm; `ts` 0 = now, else the epoch second the PBX places the call. Returns ForIP's call id."""
        data = await self.call("disca_crm", {"agent": agent, "phone": phone, "ts": str(ts)},
                               what=f"call {phone} from {agent}", unknown_outcome=True)
        callid = data.get("callid")
        if data.get("status") not in (0, "0") or not isinstance(callid, str) or not callid:
            self.errors["bad_json"] += 1
            raise ApiDown(f"{self.label} answered the dial of {phone} from {agent} without status 0 and a callid "
                          f"({_keys(data)}): the outcome is unknown, so it was not sent again; "
                          f"check extension {agent} before dialing again", outcome_unknown=True)
        return callid

    async def probe(self) -> None:
        """A harmless GET of login_crm: ForIP answers {"error": "method post failed"}; any JSON object
        proves the API is alive (nothing is logged in, nothing is dialed)."""
        await self._request("GET", "login_crm", None, what="reach the CRM API")

    # ---- plumbing ----

    async def call(self, endpoint: str, params: dict[str, str], *, what: str, unknown_outcome: bool = False
                   ) -> dict[str, Any]:
        """POST an endpoint that needs the api_key, logging in first when there is none and once
        more when ForIP says the key is invalid."""
        if self._api_key is None:
            await self.login()
        for attempt in (1, 2):
            key = self._api_key
            assert key is not None
            try:
                return await self._post(endpoint, {"api_key": key.get_secret_value(), **params}, what=what,
                                        unknown_outcome=unknown_outcome)
            except ApiRefused as exc:
                if attempt == 2 or not self._key_error.search(exc.error):
                    raise
                log.info("%s: the api_key was refused (%s): logging in again", self.label, exc.error)
                self.errors["key_renewed"] += 1
                if self._api_key is key:  # another request may have renewed it meanwhile
                    self._api_key = None
                    await self.login()
        raise AssertionError("unreachable")

    async def _post(self, endpoint: str, form: dict[str, str], *, what: str,
                    unknown_outcome: bool = False) -> dict[str, Any]:
        return await self._request("POST", endpoint, form, what=what, unknown_outcome=unknown_outcome)

    async def _request(self, method: str, endpoint: str, form: dict[str, str] | None, *, what: str,
                       unknown_outcome: bool = False) -> dict[str, Any]:
        url = f"{self.base_url}/{endpoint}"
        unknown = (" The outcome is unknown (ForIP may have placed the call), so it was not sent again: "
                   "check the phone before dialing again.") if unknown_outcome else ""
        try:
            # the whole reply within the timeout too: an endless trickle is a timeout, not a wait forever
            response = await request_capped(self._http, method, url, cap=JSON_REPLY_BYTES, pbx=self.label,
                                            error=lambda message: ApiTooLarge(f"{message}.{unknown}",
                                                                              outcome_unknown=unknown_outcome),
                                            deadline=self._http.timeout.read, data=form)
        except ApiTooLarge as exc:
            self.errors["too_large"] += 1
            self.limits(self.label, str(exc))
            raise
        except httpx.TimeoutException:
            self.errors["timeout"] += 1
            raise ApiDown(f"{self.label} did not answer within {self._http.timeout.read:g} s to {what} "
                          f"({url}); raise request_timeout in [pbx.forip] if the PBX is just slow.{unknown}",
                          outcome_unknown=unknown_outcome) from None
        except httpx.HTTPError as exc:
            self.errors["unreachable"] += 1
            if isinstance(exc, httpx.ConnectError):  # refused before sending: nothing happened
                raise ApiDown(f"cannot reach {self.label}'s CRM API at {url} to {what}: {_reason(exc)}; "
                              "check the registry's address and port") from None
            raise ApiDown(f"lost the connection to {self.label}'s CRM API at {url} while trying to {what}: "
                          f"{_reason(exc)}.{unknown}", outcome_unknown=unknown_outcome) from None
        if response.status_code != 200:
            self.errors["http_status"] += 1
            raise ApiDown(f"{self.label}'s CRM API answered HTTP {response.status_code} to {what} ({url}); "
                          f"check the address and api_path in [pbx.forip].{unknown}",
                          outcome_unknown=unknown_outcome)
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            data = None
        if not isinstance(data, dict):
            self.errors["bad_json"] += 1
            raise ApiDown(f"{self.label}'s CRM API answered something that is not a JSON object to {what} "
                          f"({url}: {response.content[:60]!r}); is the address the ForIP CRM API?{unknown}",
                          outcome_unknown=unknown_outcome)
        if "error" in data and method == "POST":
            error = str(data["error"])
            self.errors["refused"] += 1
            raise ApiRefused(_refusal(self.label, what, error), error, field=_field_of(error))
        return data


def _refusal(label: str, what: str, error: str) -> str:
    hints = {
        "email invalido": "the registry's login must be the agent's e-mail in ForIP's CRM context",
        "senha incorreta": "the registry's secret must be that agent's ForIP password",
        "method post failed": "the API must be called with POST",
    }
    hint = hints.get(error.strip().lower())
    return f"{label} refused to {what}: {error}" + (f" ({hint})" if hint else "")


def _field_of(error: str) -> str | None:
    lowered = error.lower()
    if "email" in lowered:
        return "login"
    if "senha" in lowered:
        return "secret"
    if "agent" in lowered or "ramal" in lowered:
        return "extension"
    if "phone" in lowered or "numero" in lowered or "número" in lowered:
        return "number"
    return None


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


def _keys(data: dict[str, Any]) -> str:
    return "keys: " + (", ".join(sorted(str(k) for k in data)) or "none")
