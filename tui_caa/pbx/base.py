"""The one interface every PBX family implements (simulator, Asterisk, Dígitro, Planetfone, ForIP).

A driver holds the only connection to its PBX. It reports what happens as domain events
(`events()`), tells what is going on right now (`snapshot()`, asked after every (re)connect) and
carries out commands. `capabilities` says which commands the PBX really supports; the others
raise `Unsupported` with the PBX's name, so the console can grey them out and say why."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar, NamedTuple

# the errors live in the domain (a remote console tells them apart); drivers import them from here
from tui_caa.domain.errors import NotConnected as NotConnected
from tui_caa.domain.errors import PbxError as PbxError
from tui_caa.domain.errors import Unsupported as Unsupported
from tui_caa.domain.events import PbxEvent, PbxSnapshot
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import Capability

_EXTENSION = re.compile(r"\d{2,8}")
_DIAL_STRING = re.compile(r"\+?[0-9*#]{1,32}")  # what a driver sends the PBX (phones.dial_string made it)


def checked_extension(value: object, field: str = "extension") -> str:
    """An extension number as a command's argument (fullmatch: no trailing newline reaches a PBX)."""
    if not isinstance(value, str) or not _EXTENSION.fullmatch(value):
        raise PbxError(f"'{value}' is not an extension number (2 to 8 digits)", field=field)
    return value


def checked_number(value: object, pbx: str, what: str = "dial", field: str = "number") -> str:
    """A number to dial, transfer or call back, as `pbx` ("Dígitro"…) would be asked to `what`."""
    if not isinstance(value, str) or not _DIAL_STRING.fullmatch(value):
        raise PbxError(f"'{value}' is not a number {pbx} can {what}", field=field)
    return value


#: the parts of a PBX that `check_parts()` reports on
PBX_PART = "pbx"
DATABASE_PART = "database"  # the PBX's own database (Planetfone's MySQL CDR, ForIP's tickets)


class CheckResult(NamedTuple):
    """One part of the PBX as `check_parts()` found it; `detail` names the service and, when not ok, the fix."""

    part: str  # PBX_PART or DATABASE_PART
    ok: bool
    detail: str


class PbxDriver(ABC):
    #: the name of this family, as in the config and the entry point ("simulator", "asterisk"…)
    kind: ClassVar[str]
    #: what a person reads: "Asterisk", "Dígitro"…
    label: ClassVar[str]

    capabilities: frozenset[Capability] = frozenset()

    @classmethod
    @abstractmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> PbxDriver:
        """The driver for a PBX registry entry; `options` are the family's own settings."""

    # ---- the connection ----
    @abstractmethod
    async def connect(self) -> None:
        """Connects and logs in; raises PbxError with the reason when it cannot."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def events(self) -> AsyncIterator[PbxEvent]:
        """Every event from now on, for as long as the driver is open, to one reader (the gateway).
        Reconnections show up as DriverDisconnected … DriverConnected, DriverResynced; nothing is
        replayed. A reader that falls far behind gets that same resync sequence instead of a backlog
        that grows without end."""

    @abstractmethod
    async def snapshot(self) -> PbxSnapshot:
        """The extensions and the calls under way, as the PBX sees them now."""

    async def check_parts(self) -> list[CheckResult]:
        """What the PBX's other services (its database…) answer, one result each; empty when the
        family has none. `tui-caa gateway check` prints every one, OK or FAILED. Works after a failed
        `connect()` too, so a down PBX does not hide the state of its database."""
        return []

    async def check(self) -> list[str]:
        """After `connect()`: what is wrong, one line each naming the service and the fix; empty when
        all answer. `tui-caa pbx check` prints them."""
        return [result.detail for result in await self.check_parts() if not result.ok]

    # ---- commands: each checks the capability, then runs the driver's own `_…` method ----
    async def dial(self, extension: str, number: str) -> str:
        """Calls `number` (a dial string for this PBX) from `extension`; returns the call id."""
        self.require(Capability.DIAL)
        return await self._dial(extension, number)

    async def answer(self, extension: str, call_id: str) -> None:
        self.require(Capability.ANSWER)
        await self._answer(extension, call_id)

    async def hangup(self, extension: str, call_id: str) -> None:
        self.require(Capability.HANGUP)
        await self._hangup(extension, call_id)

    async def blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        self.require(Capability.BLIND_TRANSFER)
        await self._blind_transfer(extension, call_id, target)

    async def consult(self, extension: str, call_id: str, target: str) -> None:
        """Starts an attended transfer: the call is held while `target` is called."""
        self.require(Capability.ATTENDED_TRANSFER)
        await self._consult(extension, call_id, target)

    async def complete_transfer(self, extension: str, call_id: str) -> None:
        self.require(Capability.ATTENDED_TRANSFER)
        await self._complete_transfer(extension, call_id)

    async def cancel_transfer(self, extension: str, call_id: str) -> None:
        self.require(Capability.ATTENDED_TRANSFER)
        await self._cancel_transfer(extension, call_id)

    async def hold(self, extension: str, call_id: str) -> None:
        self.require(Capability.HOLD)
        await self._hold(extension, call_id)

    async def resume(self, extension: str, call_id: str) -> None:
        self.require(Capability.HOLD)
        await self._resume(extension, call_id)

    async def send_dtmf(self, extension: str, call_id: str, digits: str) -> None:
        self.require(Capability.DTMF)
        await self._send_dtmf(extension, call_id, digits)

    async def park(self, extension: str, call_id: str) -> str:
        """Parks the call; returns the parking slot to pick it up from."""
        self.require(Capability.PARK)
        return await self._park(extension, call_id)

    async def pickup(self, extension: str, slot_or_extension: str) -> None:
        """Picks up a parked call (by slot) or a call ringing at another extension."""
        self.require(Capability.PICKUP)
        await self._pickup(extension, slot_or_extension)

    async def play_recording(self, recording_ref: str, number: str) -> str:
        """Calls `number` and plays the recording when answered; returns the new call's id."""
        self.require(Capability.PLAY_RECORDING)
        return await self._play_recording(recording_ref, number)

    async def monitor(self, mode: Capability, supervisor_extension: str, target_extension: str) -> None:
        """Listen, whisper (speak to the agent only) or barge (speak to both)."""
        if mode not in (Capability.LISTEN, Capability.WHISPER, Capability.BARGE):
            raise ValueError(f"{mode} is not a monitoring mode")
        self.require(mode)
        await self._monitor(mode, supervisor_extension, target_extension)

    def require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise Unsupported(
                f"{capability.value.replace('_', ' ')} is not supported by {self.label}",
                field=capability.value,
            )

    # ---- what a driver implements for the capabilities it declares ----
    async def _dial(self, extension: str, number: str) -> str:
        raise Unsupported(f"dial is not implemented by {self.label}")

    async def _answer(self, extension: str, call_id: str) -> None:
        raise Unsupported(f"answer is not implemented by {self.label}")

    async def _hangup(self, extension: str, call_id: str) -> None:
        raise Unsupported(f"hang up is not implemented by {self.label}")

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        raise Unsupported(f"blind transfer is not implemented by {self.label}")

    async def _consult(self, extension: str, call_id: str, target: str) -> None:
        raise Unsupported(f"attended transfer is not implemented by {self.label}")

    async def _complete_transfer(self, extension: str, call_id: str) -> None:
        raise Unsupported(f"attended transfer is not implemented by {self.label}")

    async def _cancel_transfer(self, extension: str, call_id: str) -> None:
        raise Unsupported(f"attended transfer is not implemented by {self.label}")

    async def _hold(self, extension: str, call_id: str) -> None:
        raise Unsupported(f"hold is not implemented by {self.label}")

    async def _resume(self, extension: str, call_id: str) -> None:
        raise Unsupported(f"hold is not implemented by {self.label}")

    async def _send_dtmf(self, extension: str, call_id: str, digits: str) -> None:
        raise Unsupported(f"DTMF is not implemented by {self.label}")

    async def _park(self, extension: str, call_id: str) -> str:
        raise Unsupported(f"park is not implemented by {self.label}")

    async def _pickup(self, extension: str, slot_or_extension: str) -> None:
        raise Unsupported(f"pickup is not implemented by {self.label}")

    async def _play_recording(self, recording_ref: str, number: str) -> str:
        raise Unsupported(f"playing recordings is not implemented by {self.label}")

    async def _monitor(self, mode: Capability, supervisor_extension: str, target_extension: str) -> None:
        raise Unsupported(f"{mode.value} is not implemented by {self.label}")
