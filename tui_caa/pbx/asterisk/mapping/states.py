"""Extension states from DeviceStateChange and ExtensionStatus (mixed into `AmiMapper`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_caa.domain.events import ExtensionStateChanged, PbxEvent
from tui_caa.domain.telephony import ExtensionState
from tui_caa.pbx.asterisk.mapping.model import DEVICE_STATES, HINT_STATES
from tui_caa.pbx.asterisk.packets import Packet

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper

    _Base = AmiMapper
else:
    _Base = object


class ExtensionStateMixin(_Base):
    def _devicestate(self, p: Packet, out: list[PbxEvent]) -> None:
        m = self._dev_re.match(p.get("Device", ""))
        if m is None:
            return
        self._ext_state(m.group("ext"), DEVICE_STATES.get(p.get("State", ""), ExtensionState.UNKNOWN), out)

    def _extensionstatus(self, p: Packet, out: list[PbxEvent]) -> None:
        ext = p.get("Exten", "")
        if not ext.isdigit():
            return
        self._ext_state(ext, HINT_STATES.get(p.get("Status", ""), ExtensionState.UNKNOWN), out)

    def _ext_state(self, ext: str, state: ExtensionState, out: list[PbxEvent]) -> None:
        if self._known is not None and ext not in self._known:
            return
        if self.extension_states.get(ext) is state:
            return
        self.extension_states[ext] = state
        out.append(ExtensionStateChanged(at=self._at(), extension=ext, state=state))
