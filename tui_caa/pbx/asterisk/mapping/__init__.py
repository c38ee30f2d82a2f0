"""AMI events → domain events (`PbxEvent`s). Pure: no I/O, no asyncio, no clock of its own.

`AmiMapper.feed(packet)` keeps a small model of the PBX and returns what the packet means for the
extensions:

- channels are keyed by `Uniqueid`, calls by `Linkedid` (Uniqueid of the call's first channel, kept
  by Asterisk through transfers): the `call_id` of every call event is the Linkedid;
- a channel belongs to an extension when its name matches `MapperConfig.channel_pattern`
  (`PJSIP/1001-00000001` → 1001); `Local/…;1`/`;2` halves never belong to one, and a `;2` half
  dialling a phone is traced back through its `;1` half to whoever dialled the Local channel;
- direction: the call is inbound when its first channel is in a trunk context or is not an
  extension's channel; otherwise an extension started it, and each extension leg is outbound when
  it dials a non-extension and internal between extensions;
- an extension's leg ("leg" = its channel in the call) gets CallRinging when it starts ringing
  (DialBegin to it or Newstate Ringing, whichever comes first; not for the call's own first channel,
  e.g. the phone rung by a click-to-call Originate), CallDialing when it dials out, CallAnswered on
  DialEnd ANSWER (either side) or when it shares a bridge with another channel, CallHeld /
  CallResumed on Hold / Unhold of its channel, CallConsulting when its channel (on hold) joins the
  consultation bridge an `Atxfer` builds with the target's `Local/…;1` channel, CallTransferred on
  BlindTransfer / AttendedTransfer where it is the transferer (or when the driver redirected the
  other party and hangs this channel up), CallParked when the call it parked shows in ParkedCall,
  and CallEnded when its channel hangs up; an extension's channel that never rang nor dialled but
  joins a bridge with someone (it picked up a parked or ringing call) gets its leg there, answered;
- a dial (`Originate`) the driver announced with `expect_originate` is CallDialing as soon as its
  channel appears (the agent's phone picking up is not the answer: the number's is); one that fails
  (`OriginateResponse: Failure`, the agent's phone never answered) ends with CallEnded for the
  extension, with the ChannelId as call id, even when no channel event came;
- extension states come from DeviceStateChange (`Device: PJSIP/1001`) and ExtensionStatus, and are
  only reported when they change.

Speed: this runs for every AMI event (> 150k/s under load), so `feed` is one dict lookup on the
event name; VarSet is dropped unless its variable is one we use; everything else (Newexten, RTCP,
QueueMemberStatus, Cdr…) costs a failed lookup.
"""

from __future__ import annotations

from tui_caa.pbx.asterisk.mapping.filter import event_filter
from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper
from tui_caa.pbx.asterisk.mapping.model import (
    DEVICE_STATES,
    HANDLED_EVENTS,
    HINT_STATES,
    Channel,
    MapperConfig,
    PendingDial,
)

__all__ = ["DEVICE_STATES", "HANDLED_EVENTS", "HINT_STATES", "AmiMapper", "Channel", "MapperConfig", "PendingDial",
           "event_filter"]
