"""The calls under way after a (re)connect, from the items of `CoreShowChannels`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tui_caa.domain.telephony import Direction
from tui_caa.pbx.asterisk.mapping.model import UNKNOWN_NUMBERS
from tui_caa.pbx.asterisk.packets import Packet

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper

def load_active_channels(mapper: AmiMapper, items: list[Packet]) -> None:
    """The calls under way after a (re)connect, from `CoreShowChannels` items: each extension's
    leg is known at once (direction, other party, answered), without replaying any event."""
    items = [p for p in items if p.get("Event") == "CoreShowChannel" and p.get("Uniqueid")]
    # the call's first channel (Uniqueid == Linkedid) decides its direction: feed those first
    items.sort(key=lambda p: p.get("Uniqueid") != p.get("Linkedid"))
    firsts = {p["Uniqueid"]: p for p in items if p.get("Uniqueid") == p.get("Linkedid")}
    for p in items:
        chan = mapper._channel(p)
        if chan is None:
            continue
        bridge = p.get("BridgeId")
        if bridge:  # every channel's: the other party of a leg may be no extension
            chan.bridge = bridge
            mapper.bridges.setdefault(bridge, set()).add(chan.uniqueid)
        if chan.ext is None:
            continue
        uid, linkedid = p["Uniqueid"], p.get("Linkedid") or p["Uniqueid"]
        connected = p.get("ConnectedLineNum", "")
        number = connected if connected and connected not in ("<unknown>", "s") else None
        ext_like = number is not None and mapper._extension_of_number(number)
        if uid == linkedid:  # the extension started this call
            if number is None or number == chan.ext:  # an Originate: connected to itself, or unknown
                number = _dialled_number(p, items, chan.ext)
                ext_like = number is not None and mapper._extension_of_number(number)
            direction = Direction.INTERNAL if ext_like else Direction.OUTBOUND
        else:
            first = firsts.get(linkedid)
            if first is not None:
                inbound = (first.get("Context", "") in mapper.config.trunk_contexts
                           or mapper._extension_of(first.get("Channel", "")) is None)
            else:
                inbound = not ext_like
            direction = Direction.INBOUND if inbound else Direction.INTERNAL
            chan.dialer = linkedid if linkedid in mapper.channels else None
        chan.announced = True
        chan.direction = direction
        chan.number = number
        chan.answered = p.get("ChannelStateDesc") == "Up"
        chan.started_at = _started(p, mapper._at())
    _consultations(mapper, items)
    # answered: not reported; best estimate = when the call's latest channel that is Up was
    # created (the answering leg is created when the dial to it begins, so no earlier than that)
    latest: dict[str, datetime] = {}
    for p in items:
        if p.get("ChannelStateDesc") == "Up":
            at = _started(p, mapper._at())
            linkedid = p.get("Linkedid") or p["Uniqueid"]
            if linkedid not in latest or at > latest[linkedid]:
                latest[linkedid] = at
    for chan in mapper.channels.values():
        if chan.answered and chan.linkedid in latest:
            chan.answered_at = max(latest[chan.linkedid], chan.started_at or latest[chan.linkedid])


def _consultations(mapper: AmiMapper, items: list[Packet]) -> None:
    """An Atxfer consultation under way (see `consultation`): the `Local/<target>@…;1` half that
    nobody dialled shares a bridge with the transferer only, while the held party waits alone in
    the call's bridge. The target's phone is then the consulted leg, the transferer is consulting."""
    members: dict[str, list[Packet]] = {}
    for p in items:
        if p.get("BridgeId"):
            members.setdefault(p["BridgeId"], []).append(p)
    for one in items:
        name = one.get("Channel", "")
        if not (name.startswith("Local/") and name.endswith(";1")) or one.get("Uniqueid") == one.get("Linkedid"):
            continue
        with_one = [p for p in members.get(one.get("BridgeId", ""), []) if p is not one]
        transferer = mapper.channels.get(with_one[0]["Uniqueid"]) if len(with_one) == 1 else None
        if transferer is None or transferer.ext is None:
            continue
        held_alone = any(len(members.get(p.get("BridgeId", ""), [])) == 1 for p in items
                         if p.get("Linkedid") == transferer.linkedid and p.get("BridgeId")
                         and p is not one and p["Uniqueid"] != transferer.uniqueid)
        if not held_alone:  # the transfer is complete: ;1 talks with the transferred party
            continue
        target = name[6:].split("@", 1)[0]
        transferer.consulting = True
        for chan in mapper.channels.values():
            if chan.ext == target and chan.linkedid == transferer.linkedid and chan is not transferer:
                chan.leg_id, chan.consult_local = chan.uniqueid, name[:-2]
                chan.direction, chan.number = Direction.INTERNAL, transferer.ext


def _started(p: Packet, now: datetime) -> datetime:
    """When a CoreShowChannel item's channel was created: now minus its `Duration` (HH:MM:SS)."""
    try:
        h, m, sec = (int(x) for x in p.get("Duration", "").split(":"))
    except ValueError:
        return now
    return now - timedelta(hours=h, minutes=m, seconds=sec)


def _dialled_number(first: Packet, items: list[Packet], own: str) -> str | None:
    """The number an extension's call goes to, when its channel does not say who it is connected to
    (a click-to-call Originate rings the agent first, so it is "connected" to itself): the dialplan
    extension the call runs at, else what the call's other channels know of the far end."""
    linkedid = first.get("Linkedid") or first.get("Uniqueid")
    others = [p for p in items if p is not first and (p.get("Linkedid") or p.get("Uniqueid")) == linkedid]
    candidates = [first.get("Exten", "")]
    for other in others:
        candidates += [other.get("Exten", ""), other.get("CallerIDNum", ""), other.get("ConnectedLineNum", "")]
    for value in candidates:
        if value and value not in UNKNOWN_NUMBERS and value != own:
            return value
    return None
