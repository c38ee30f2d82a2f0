"""How states read on screen: a word and a glyph next to the colour (never colour alone)."""

from __future__ import annotations

from datetime import timedelta

from tui_caa.domain import CallState, ContactOutcome, Direction, Disposition, ExtensionState, PhoneSlot
from tui_caa.phone_rules import CallerIdRules, NumberKind
from tui_caa.phones import InvalidPhoneNumber, display, normalize
from tui_caa.protocol.messages import LinkState
from tui_caa.ui.i18n import Catalog

T = Catalog({
    "withheld": ("número não identificado", "withheld number"),
    "extension_number": ("ramal {number}", "extension {number}"),
    "offline": ("desconectado", "offline"),
    "idle": ("livre", "idle"),
    "ringing": ("tocando", "ringing"),
    "dialing": ("chamando", "dialing"),
    "in_call": ("em ligação", "in a call"),
    "on_hold": ("em espera", "on hold"),
    "dnd": ("não perturbe", "do not disturb"),
    "unknown": ("desconhecido", "unknown"),
    "call_ringing": ("tocando", "ringing"),
    "call_dialing": ("chamando", "dialing"),
    "call_active": ("em conversa", "talking"),
    "call_held": ("em espera", "on hold"),
    "call_consulting": ("consultando", "consulting"),
    "call_ended": ("encerrada", "ended"),
    "in": ("entrada", "inbound"),
    "out": ("saída", "outbound"),
    "internal": ("interna", "internal"),
    "link_connected": ("central conectada", "PBX connected"),
    "link_reconnecting": ("reconectando à central", "reconnecting to the PBX"),
    "link_down": ("central fora do ar", "PBX down"),
    "link_unreachable": ("sem contato com o serviço de integração", "integration service unreachable"),
    "answered": ("atendida", "answered"),
    "no_answer": ("não atendida", "not answered"),
    "busy": ("ocupado", "busy"),
    "abandoned": ("abandonada", "abandoned"),
    "failed": ("falhou", "failed"),
    "transferred": ("transferida", "transferred"),
    "elsewhere": ("atendida por outro", "answered elsewhere"),
    "residencial": ("Residencial", "Home"),
    "comercial": ("Comercial", "Work"),
    "celular": ("Celular", "Mobile"),
    "recado": ("Recado", "Message"),
    "interested": ("Interessado", "Interested"),
    "appointment_set": ("Agendou", "Appointment set"),
    "call_back": ("Retornar", "Call back"),
    "sale": ("Venda", "Sale"),
    "information": ("Informação", "Information"),
    "not_interested": ("Sem interesse", "Not interested"),
    "wrong_number": ("Número errado", "Wrong number"),
})

EXTENSION_GLYPHS = {
    ExtensionState.OFFLINE: "○", ExtensionState.IDLE: "●", ExtensionState.RINGING: "◉",
    ExtensionState.DIALING: "◎", ExtensionState.IN_CALL: "■", ExtensionState.ON_HOLD: "❚❚",
    ExtensionState.DND: "⊘", ExtensionState.UNKNOWN: "?",
}
#: CSS class per state; the colours come from the theme's $ext-* variables
EXTENSION_CLASSES = {
    ExtensionState.OFFLINE: "ext-offline", ExtensionState.IDLE: "ext-idle", ExtensionState.RINGING: "ext-ringing",
    ExtensionState.DIALING: "ext-dialing", ExtensionState.IN_CALL: "ext-busy", ExtensionState.ON_HOLD: "ext-held",
    ExtensionState.DND: "ext-busy", ExtensionState.UNKNOWN: "ext-offline",
}
#: the theme variable of each state, for markup such as "[$ext-busy]"
EXTENSION_VARIABLES = {state: f"${css}" for state, css in EXTENSION_CLASSES.items()}
LINK_GLYPHS = {LinkState.CONNECTED: "●", LinkState.RECONNECTING: "◌", LinkState.DOWN: "✖",
               LinkState.UNREACHABLE: "✖"}
DIRECTION_GLYPHS = {Direction.INBOUND: "↙", Direction.OUTBOUND: "↗", Direction.INTERNAL: "↔"}


def extension_state(state: ExtensionState) -> str:
    return f"{EXTENSION_GLYPHS[state]} {T(state.value)}"


def call_state(state: CallState) -> str:
    return T(f"call_{state.value}")


def direction(value: Direction) -> str:
    return f"{DIRECTION_GLYPHS[value]} {T(value.value)}"


def link_state(state: LinkState) -> str:
    return f"{LINK_GLYPHS[state]} {T(f'link_{state.value}')}"


def disposition(value: Disposition) -> str:
    return T(value.value)


def slot(value: PhoneSlot) -> str:
    return T(value.value)


def outcome(value: ContactOutcome) -> str:
    return T(value.value)


def duration(delta: timedelta | float) -> str:
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes:02}:{seconds:02}"


def phone_number(raw: str | None, rules: CallerIdRules | None = None) -> str:
    """A number from the PBX as a person reads it: "(51) 3333-4444" (a local number gets the site's
    DDD), "ramal 1002", "número não identificado"; what cannot be read as a number stays as it came."""
    text = (raw or "").strip()
    try:
        number = normalize(text, rules)
    except InvalidPhoneNumber:
        return text
    if number.kind is NumberKind.ANONYMOUS:
        return T("withheld")
    if number.kind is NumberKind.EXTENSION:
        return T("extension_number", number=text)
    return display(number.e164) if number.e164 else text
