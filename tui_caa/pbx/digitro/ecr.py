"""EasyCall Record, Dígitro's recording product: recording lookup and playback.

NOTHING about its API is public (`reference/pbx-protocols.md` §1.1). What this module ASSUMES, each
part configurable in `[pbx.digitro]`:
- an HTTP service at the registry's `ecr_address`:`ecr_port` (https with `ecr_use_tls`), with HTTP
  Basic authentication by the registry's `ecr_user` / `ecr_password`;
- lookup: `GET <ecr_lookup_path>?ID_CHAMADA=<call id>` (or `?ID_GRAVACAO=<ref>`) answers
  `{"GRAVACOES": [{"ID_GRAVACAO": …, "ID_CHAMADA": …, "DURACAO": seconds}, …]}`;
- playback: `POST <ecr_play_path>` with `{"ID_GRAVACAO": ref, "DESTINO": number}` calls the number
  and plays the recording when answered; it answers `{"ID_CHAMADA": …}` of the new call.
A recording reference in tui-caa is the `ID_GRAVACAO` (the PBX names it in the call's end event).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from tui_caa.pbx.base import PbxError
from tui_caa.pbx.digitro.http import DigitroHttp

RECORDINGS, RECORDING_ID, DURATION, TARGET = "GRAVACOES", "ID_GRAVACAO", "DURACAO", "DESTINO"


@dataclass(frozen=True, slots=True)
class Recording:
    ref: str
    call_id: str | None
    seconds: float | None


class EasyCallRecord:
    def __init__(self, base_url: str, user: str, password: SecretStr | None, *, lookup_path: str, play_path: str,
                 verify: bool, connect_timeout: float, request_timeout: float) -> None:
        self.lookup_path, self.play_path = lookup_path, play_path
        secret = password.get_secret_value() if password is not None else ""
        self._http = DigitroHttp(base_url, auth=(user, secret), verify=verify, connect_timeout=connect_timeout,
                                 request_timeout=request_timeout,
                                 settings_hint="the registry fields ecr_address and ecr_port (EasyCall Record)")

    def on_too_large(self, note: Callable[[str], None]) -> None:
        """`note` is told of every reply refused for its size (the driver counts and logs them)."""
        self._http.on_too_large = note

    async def close(self) -> None:
        await self._http.close()

    async def lookup(self, *, call_id: str | None = None, ref: str | None = None) -> list[Recording]:
        params = {"ID_CHAMADA": call_id} if call_id is not None else {RECORDING_ID: ref or ""}
        what = f"find the recording of call {call_id}" if call_id is not None else f"find recording {ref}"
        try:
            body = await self._http.request("GET", self.lookup_path, f"{what} (EasyCall Record)", params=params)
        except PbxError as exc:
            raise _ecr_error(exc) from None
        items = body.get(RECORDINGS)
        if not isinstance(items, list):
            raise PbxError(f"EasyCall Record answered the request to {what} without a {RECORDINGS} list")
        return [_recording(item) for item in items if isinstance(item, dict) and item.get(RECORDING_ID)]

    async def play(self, ref: str, number: str) -> str:
        """Calls `number` and plays recording `ref`; the new call's id."""
        found = await self.lookup(ref=ref)
        if not any(item.ref == ref for item in found):
            raise PbxError(f"recording {ref!r} not found on EasyCall Record", field="recording_ref")
        what = f"play recording {ref} to {number} (EasyCall Record)"
        try:
            body = await self._http.post(self.play_path, {RECORDING_ID: ref, TARGET: number}, what)
        except PbxError as exc:
            raise _ecr_error(exc) from None
        call_id = body.get("ID_CHAMADA")
        if not call_id:
            raise PbxError(f"EasyCall Record did not say which call plays recording {ref} (no ID_CHAMADA)")
        return str(call_id)


def _recording(item: dict[str, Any]) -> Recording:
    seconds = item.get(DURATION)
    return Recording(str(item[RECORDING_ID]), str(item["ID_CHAMADA"]) if item.get("ID_CHAMADA") else None,
                     float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None)


def _ecr_error(exc: PbxError) -> PbxError:
    """The same error, but credentials refused name the EasyCall Record fields, not the API key."""
    if exc.field == "secret":
        return PbxError("EasyCall Record refused the user and password: check the PBX registry fields ecr_user "
                        "and ecr_password", field="ecr_user")
    return exc
