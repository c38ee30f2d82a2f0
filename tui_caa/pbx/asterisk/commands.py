"""The Asterisk driver's commands: which AMI action each one sends, and why.

Every command finds the extension's channel in the call from the mapper's live model (the call id
is the Linkedid), sends standard AMI actions and turns `Response: Error` into a `PbxError` with
Asterisk's own message. The state that follows (answered, held, transferred…) is never invented
here: it comes back as AMI events through the mapper.

- dial: `Originate` (Async) of `<technology>/<ext>` into `dial_context` (CallerID `"<number>" <ext>`: the
  agent's phone shows whom it calls), with a fresh `ChannelId`
  that becomes the call id; announced to the mapper, so the call is DIALING as soon as its channel
  rings the agent's phone (where Asterisk's CDR starts it too), and a failed Originate (the phone
  never answered, no channel at all) still ends with CallEnded NO_ANSWER / BUSY / FAILED.
- hang up: `Hangup` of the extension's channel.
- blind transfer: `BlindTransfer` of the extension's channel (its bridged party goes to the target).
  When Asterisk refuses it (older than 12: "Invalid/unknown command", or the transfer failed), the
  other party is moved with `Redirect` to target@dial_context and the extension's channel is hung up.
- attended transfer (only with `atxfer_enabled`, i.e. the atxfer feature code is configured in
  features.conf, which `Atxfer` needs): consult = `Atxfer` (Channel = the extension's channel);
  complete = `Hangup` of the transferer's channel (Asterisk completes an attended transfer when the
  transferer hangs up); an `Atxfer` Asterisk accepted but did not carry out is found out by the
  mapper (`mapping/consultation.py`, `expect_atxfer`) or after `confirm_timeout_s`;
  cancel = `Hangup` of the consulted channel(s) (Asterisk then puts the
  transferer back with the held party). `CancelAtxfer` (Asterisk 17+) is not used, to work on 13-16.
- hold: core AMI has no Hold action. `hold_method`:
  "none" (default): HOLD is not offered;
  "notify": `PJSIPNotify` to the extension's endpoint with `Event=hold` (resume: `Event=talk`),
  the remote-control NOTIFY that Yealink, Fanvil and other phones obey when allowed to; the phone
  then holds as if its key was pressed, so the Hold/Unhold events follow as usual; a phone that
  ignores it leaves no trace: without a Hold (Unhold) within `confirm_timeout_s`, CommandFailed
  HOLD_NOT_CONFIRMED (RESUME_NOT_CONFIRMED) tells the agent;
  "park": the other party is parked (`Park`, TimeoutChannel = the extension's channel, timeout
  `hold_park_timeout_s`) and the slot kept; resume calls the extension and connects it to the slot
  (`Originate` into `parking_context`). The mapper is told (`expect_hold_park`): for the agent it
  is one call, held then resumed (same id, DDR, recording: see `mapping/holds.py`), although
  Asterisk hangs the agent's channel up and the resume is a new channel; hanging up a call held
  so hangs up the party waiting in the slot.
  In every method the hold state shown comes from Asterisk's events, never from the command.
- park: `Park` of the other party (TimeoutChannel = the extension's channel, which Asterisk treats
  as the parker); the slot comes from the `ParkedCall` event. pickup: of a call ringing at another
  extension: `Originate` of the extension's phone into `Pickup(<ext>@<pickup_context>)`; otherwise
  the argument is a parking slot: `Originate` of the extension's phone to slot@`parking_context`,
  once `ParkedCalls` shows a call there (an empty slot is refused: Asterisk would accept the dial).
- DTMF: one `PlayDTMF` per digit on the *other party's* channel (PlayDTMF sends the digit out of
  the channel it names, so that is how the far end, e.g. an IVR, hears the agent's digits).
- play recording: `Originate` of `<technology>/<n>` (an extension) or `Local/<n>@<dial_context>`
  (an outside number) with Application `Playback`, Data = the recording without its extension.
- listen / whisper / barge: `Originate` of the supervisor's phone with Application `ChanSpy`,
  Data `<technology>/<target>,qE` / `,qwE` / `,qBE` (q: no beep, E: end with the spied call).
- answer: Asterisk has no generic answer-by-API. With `answer_method = "notify"` a `PJSIPNotify`
  `Event=talk` asks the phone to answer (phones that support it); otherwise ANSWER is not offered.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tui_caa.domain.events import PbxEvent
from tui_caa.domain.telephony import Capability, Direction
from tui_caa.pbx.asterisk.mapping import AmiMapper, Channel, PendingDial
from tui_caa.pbx.asterisk.mapping.consultation import AtxferWatch
from tui_caa.pbx.asterisk.mapping.model import call_id_of
from tui_caa.pbx.asterisk.packets import Packet
from tui_caa.pbx.base import PbxError, checked_extension, checked_number

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.client import AmiClient

# used with fullmatch: with match, "$" would let a trailing newline through into an AMI header
DTMF = re.compile(r"[0-9*#A-D]{1,64}")
_RECORDING = re.compile(r"[^\x00-\x1f,|;]{1,255}")  # no control chars, no app-argument separators
_AUDIO_SUFFIXES = frozenset({".wav", ".wav49", ".gsm", ".ulaw", ".alaw", ".sln", ".g722", ".mp3", ".ogg"})
_SPY_OPTIONS = {Capability.LISTEN: "qE", Capability.WHISPER: "qwE", Capability.BARGE: "qBE"}
NOTIFY_HOLD = "Event=hold"
NOTIFY_TALK = "Event=talk"


class AmiCommands:
    """Mixed into `AsteriskDriver`: the `_…` command methods `PbxDriver` calls after its capability check."""

    # provided by the driver
    name: str
    label: str
    technology: str
    dial_context: str
    parking_context: str
    pickup_context: str
    originate_timeout_ms: int
    hold_method: str
    hold_park_timeout_s: int
    confirm_timeout_s: float
    action_timeout: float
    _client: AmiClient
    _mapper: AmiMapper
    _park_waiters: dict[str, asyncio.Future[str]]

    # annotations, not methods: a method here would come before PumpedDriver's in the MRO
    _require_link: Callable[[], None]
    _later: Callable[[Callable[[AmiMapper, datetime], list[PbxEvent]]], None]

    # ---- helpers ----


    def _channel_of(self, extension: str, call_id: str) -> Channel:
        for chan in self._mapper.channels.values():
            if chan.ext == extension and call_id_of(chan) == call_id and not chan.done:
                return chan
        raise PbxError(f"call {call_id} is not under way at extension {extension} on {self.name}",
                       field="call_id")

    def _other_party(self, chan: Channel, what: str) -> Channel:
        peers = self._mapper.peers(chan)
        if not peers:
            raise PbxError(f"cannot {what}: extension {chan.ext} is not talking to anyone in call {chan.linkedid} "
                           f"on {self.name}", field="call_id")
        return peers[0]

    def _phone(self, extension: str) -> str:
        return f"{self.technology}/{extension}"

    async def _action(self, action: str, **headers: str | int | bool) -> Packet:
        self._require_link()
        return await self._client.send_action(action, **headers)

    async def _send(self, action: str, what: str, **headers: str | int | bool) -> Packet:
        reply = await self._action(action, **headers)
        if reply.get("Response") != "Success":
            raise PbxError(f"{self.label} refused to {what}: {_message(reply)}")
        return reply

    async def _originate(self, what: str, **headers: str | int | bool) -> str:
        """An async Originate with a fresh ChannelId (never re-sent: a retry is a new id)."""
        channel_id = f"caa-{uuid.uuid4().hex}"
        await self._send("Originate", what, Timeout=self.originate_timeout_ms, Async=True, ChannelId=channel_id,
                         **headers)
        return channel_id

    # ---- dial, hang up ----

    async def _dial(self, extension: str, number: str) -> str:
        checked_extension(extension)
        checked_number(number, self.label, "dial", "number")
        self._require_link()
        channel_id = f"caa-{uuid.uuid4().hex}"  # fresh for every attempt: never re-sent
        direction = Direction.INTERNAL if self._mapper.is_internal_number(number) else Direction.OUTBOUND
        mapper = self._mapper
        mapper.expect_originate(PendingDial(channel_id=channel_id, extension=extension, number=number,
                                            direction=direction, channel=self._phone(extension)))
        try:
            # CallerID: the phone rung first shows whom it is calling (Asterisk sets the connected line
            # from it; without it the phone shows "anonymous"); the number stays the extension's own,
            # so the caller id the far end gets does not change
            await self._send("Originate", f"call {number} from {extension}",
                             Channel=self._phone(extension), Context=self.dial_context, Exten=number,
                             Priority=1, Timeout=self.originate_timeout_ms, Async=True, ChannelId=channel_id,
                             CallerID=f'"{number}" <{extension}>')
        except BaseException:
            mapper.pending_dials.pop(channel_id, None)  # refused: no OriginateResponse will come
            raise
        return channel_id

    async def _hangup(self, extension: str, call_id: str) -> None:
        checked_extension(extension)
        self._require_link()
        held = self._mapper.held_by_park(extension, call_id)
        parked = self._mapper.channels.get(held.parkee) if held is not None else None
        if parked is not None:  # on hold by park: the call ends with the party waiting in the slot
            await self._send("Hangup", f"hang up call {call_id} on hold at {extension}", Channel=parked.name)
            return
        chan = self._channel_of(extension, call_id)
        await self._send("Hangup", f"hang up call {call_id} at {extension}", Channel=chan.name)

    async def _answer(self, extension: str, call_id: str) -> None:
        checked_extension(extension)
        self._require_link()
        chan = self._channel_of(extension, call_id)
        if chan.answered:
            raise PbxError(f"call {call_id} at {extension} is already answered", field="call_id")
        await self._send("PJSIPNotify", f"ask phone {extension} to answer", Endpoint=extension, Variable=NOTIFY_TALK)

    # ---- transfers ----

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        checked_extension(extension)
        checked_number(target, self.label, "transfer to", "target")
        self._require_link()
        chan = self._channel_of(extension, call_id)
        what = f"transfer call {call_id} at {extension} to {target}"
        reply = await self._action("BlindTransfer", Channel=chan.name, Context=self.dial_context, Exten=target)
        if reply.get("Response") == "Success":
            return
        refused = _message(reply)
        peers = self._mapper.peers(chan)
        if not peers:
            raise PbxError(f"{self.label} refused to {what}: {refused} (and there is no other party to redirect)")
        # fallback for Asterisk < 12 or a refused BlindTransfer: move the other party ourselves
        reply = await self._action("Redirect", Channel=peers[0].name, Context=self.dial_context, Exten=target,
                                   Priority=1)
        if reply.get("Response") != "Success":
            raise PbxError(f"{self.label} refused to {what}: BlindTransfer: {refused}; Redirect: {_message(reply)}")
        self._mapper.expect_redirect_transfer(chan.uniqueid, target)
        await self._send("Hangup", f"hang up {extension} after transferring call {call_id}", Channel=chan.name)

    async def _consult(self, extension: str, call_id: str, target: str) -> None:
        checked_extension(extension)
        checked_number(target, self.label, "consult", "target")
        self._require_link()
        chan = self._channel_of(extension, call_id)
        mapper = self._mapper
        # watched from before the reply: the Hold may come first
        mapper.expect_atxfer(AtxferWatch(uniqueid=chan.uniqueid, extension=extension, call_id=call_id, target=target))
        try:
            await self._send("Atxfer", f"start an attended transfer of call {call_id} at {extension} to {target}",
                             Channel=chan.name, Exten=target, Context=self.dial_context)
        except BaseException:
            mapper.atxfers.pop(chan.uniqueid, None)
            raise
        uid = chan.uniqueid
        self._later(lambda m, now: m.atxfer_expired(uid, now))

    def _consultation(self, extension: str, call_id: str) -> Channel:
        chan = self._channel_of(extension, call_id)
        if not chan.consulting:
            raise PbxError(f"no attended transfer is under way for call {call_id} at {extension}", field="call_id")
        return chan

    async def _complete_transfer(self, extension: str, call_id: str) -> None:
        checked_extension(extension)
        self._require_link()
        chan = self._consultation(extension, call_id)
        # Asterisk joins the held party and the target when the transferer hangs up
        await self._send("Hangup", f"complete the transfer of call {call_id} at {extension}", Channel=chan.name)

    async def _cancel_transfer(self, extension: str, call_id: str) -> None:
        checked_extension(extension)
        self._require_link()
        chan = self._consultation(extension, call_id)
        targets = self._mapper.peers(chan)
        if not targets:
            raise PbxError(f"the consulted party of call {call_id} at {extension} is already gone", field="call_id")
        self._mapper.atxfer_cancelled(chan.uniqueid)
        for target in targets:  # Asterisk then returns the transferer to the held party
            await self._send("Hangup", f"cancel the transfer of call {call_id} at {extension}", Channel=target.name)

    # ---- hold ----

    async def _hold(self, extension: str, call_id: str) -> None:
        checked_extension(extension)
        self._require_link()
        chan = self._channel_of(extension, call_id)
        if self.hold_method == "notify":
            await self._send("PJSIPNotify", f"ask phone {extension} to hold call {call_id}", Endpoint=extension,
                             Variable=NOTIFY_HOLD)
            uid = chan.uniqueid  # a phone may ignore the NOTIFY: only a Hold event confirms it
            self._later(lambda m, now: m.hold_unconfirmed(uid, True, now))
            return
        mapper = self._mapper
        mapper.expect_hold_park(chan.uniqueid)  # its ParkedCall is a hold of this leg, not its end
        try:
            await self._park_channel(chan, f"hold call {call_id} at {extension}", Timeout=self.hold_park_timeout_s * 1000)
        except BaseException:
            mapper.hold_parks.discard(chan.uniqueid)
            raise

    async def _resume(self, extension: str, call_id: str) -> None:
        checked_extension(extension)
        self._require_link()
        if self.hold_method == "notify":
            uid = self._channel_of(extension, call_id).uniqueid
            await self._send("PJSIPNotify", f"ask phone {extension} to resume call {call_id}", Endpoint=extension,
                             Variable=NOTIFY_TALK)
            self._later(lambda m, now: m.hold_unconfirmed(uid, False, now))
            return
        held = self._mapper.held_by_park(extension, call_id)
        if held is None:
            raise PbxError(f"call {call_id} was not put on hold from {extension} by {self.name}", field="call_id")
        # while the call stays held (the phone did not answer this), the hold key may try again
        await self._originate(f"resume call {call_id} at {extension} from parking slot {held.slot}",
                              Channel=self._phone(extension), Context=self.parking_context, Exten=held.slot,
                              Priority=1)

    # ---- park, pickup ----

    async def _park_channel(self, chan: Channel, what: str, **headers: str | int | bool) -> str:
        other = self._other_party(chan, what)
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._park_waiters[other.uniqueid] = waiter
        try:
            await self._send("Park", what, Channel=other.name, TimeoutChannel=chan.name, **headers)
            try:
                return await asyncio.wait_for(waiter, self.action_timeout)
            except TimeoutError:
                raise PbxError(f"{self.label} accepted to {what} but reported no parking slot within "
                               f"{self.action_timeout:g} s (is res_parking loaded?)") from None
        finally:
            if self._park_waiters.get(other.uniqueid) is waiter:
                del self._park_waiters[other.uniqueid]

    async def _park(self, extension: str, call_id: str) -> str:
        checked_extension(extension)
        self._require_link()
        chan = self._channel_of(extension, call_id)
        return await self._park_channel(chan, f"park call {call_id} at {extension}")

    async def _pickup(self, extension: str, slot_or_extension: str) -> None:
        checked_extension(extension)
        target = slot_or_extension
        if not isinstance(target, str) or not re.fullmatch(r"\d{1,8}", target):
            raise PbxError(f"'{target}' is neither a parking slot nor an extension", field="slot_or_extension")
        self._require_link()
        ringing = any(c.ext == target and c.announced and not c.answered and not c.done
                      and c.direction is not None and (c.dialer is not None or c.direction is Direction.INBOUND)
                      for c in self._mapper.channels.values())
        if ringing:
            await self._originate(f"pick up the call ringing at {target} from {extension}",
                                  Channel=self._phone(extension), Application="Pickup",
                                  Data=f"{target}@{self.pickup_context}")
        else:
            if not await self._slot_taken(target):
                raise PbxError(f"parking slot {target} is empty: no call is parked there", field="slot")
            await self._originate(f"pick up parking slot {target} from {extension}",
                                  Channel=self._phone(extension), Context=self.parking_context, Exten=target,
                                  Priority=1)

    async def _slot_taken(self, slot: str) -> bool:
        """Whether a call is parked on `slot`, as res_parking says now (`ParkedCalls`): dialling an
        empty slot is accepted by Asterisk and does nothing the agent could see. When the list cannot
        be had (no such action), the slot is tried."""
        reply = await self._client.send_list_action("ParkedCalls")
        if reply.response.get("Response") != "Success":
            return True
        return any(item.get("ParkingSpace") == slot for item in reply.items)

    # ---- DTMF, recordings, supervision ----

    async def _send_dtmf(self, extension: str, call_id: str, digits: str) -> None:
        checked_extension(extension)
        if not isinstance(digits, str) or not DTMF.fullmatch(digits.upper()):
            raise PbxError(f"'{digits}' are not DTMF digits (0-9, *, #, A-D)", field="digits")
        self._require_link()
        chan = self._channel_of(extension, call_id)
        other = self._other_party(chan, f"send DTMF in call {call_id}")
        for digit in digits.upper():
            await self._send("PlayDTMF", f"send DTMF {digit} in call {call_id} at {extension}", Channel=other.name,
                             Digit=digit)

    async def _play_recording(self, recording_ref: str, number: str) -> str:
        checked_number(number, self.label, "call to play a recording", "number")
        if not isinstance(recording_ref, str) or not _RECORDING.fullmatch(recording_ref):
            raise PbxError(f"'{recording_ref}' is not a recording {self.label} can play (no commas, "
                           f"'|', ';' or control characters)", field="recording_ref")
        self._require_link()
        path = PurePosixPath(recording_ref)
        media = str(path.with_suffix("")) if path.suffix.lower() in _AUDIO_SUFFIXES else recording_ref  # Playback adds it
        if self._mapper.is_internal_number(number):
            channel = self._phone(number)
        else:
            channel = f"Local/{number}@{self.dial_context}"
        return await self._originate(f"play {recording_ref} to {number}", Channel=channel, Application="Playback",
                                     Data=media)

    async def _monitor(self, mode: Capability, supervisor_extension: str, target_extension: str) -> None:
        checked_extension(supervisor_extension, "supervisor_extension")
        checked_extension(target_extension, "target_extension")
        self._require_link()
        await self._originate(f"{mode.value} to {target_extension} from {supervisor_extension}",
                              Channel=self._phone(supervisor_extension), Application="ChanSpy",
                              Data=f"{self._phone(target_extension)},{_SPY_OPTIONS[mode]}")


def _message(reply: Packet) -> str:
    return reply.get("Message") or reply.get("Response") or "?"
