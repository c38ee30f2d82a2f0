"""Refusals from the gateway, the PBX and the CRM, said in the console's language.

The layers below speak English (logs, integrators); the agent reads Portuguese. Known kinds of
refusal are translated by their class and field; anything else is shown as the layer said it."""

from __future__ import annotations

from tui_caa.domain.errors import (
    DatabaseUnavailable,
    DomainError,
    NotAllowed,
    NotConnected,
    PbxError,
    Reconnecting,
    Unsupported,
)
from tui_caa.domain.events import CommandFailed
from tui_caa.protocol.link_errors import GatewayUnanswered, GatewayUnreachable, TooManyAttempts, Unauthorized, WireError
from tui_caa.ui.i18n import Catalog, current_language
from tui_caa.ui.phone_problems import phone_reason

T = Catalog({
    "reconnecting": ("A conexão com a central está sendo restabelecida; tente de novo em instantes.",
                     "The PBX link is being restored; try again in a moment."),
    "not_connected": ("A central não está conectada: {detail}", "The PBX is not connected: {detail}"),
    "unsupported": ("A central não oferece esta função: {what}.", "The PBX does not offer this: {what}."),
    "crm_down": ("O CRM não está respondendo; nada foi perdido, tente de novo em instantes.",
                 "The CRM is not answering; nothing was lost, try again in a moment."),
    "call_id": ("Esta chamada não está no seu ramal.", "This call is not on your extension."),
    "role": ("Só supervisores podem ouvir, sussurrar ou intervir.", "Only supervisors may listen, whisper or barge."),
    "recording_ref": ("Esta ligação não tem gravação.", "This call has no recording."),
    "extension": ("Este ramal não é seu ou não existe nesta central.", "This extension is not yours or not on this PBX."),
    "number": ("Número inválido para discar: {detail}", "Invalid number to dial: {detail}"),
    "target": ("Destino inválido: {detail}", "Invalid target: {detail}"),
    "pbx_refused": ("A central recusou: {detail}", "The PBX refused: {detail}"),
    "slot": ("Não há chamada estacionada nessa vaga.", "No call is parked on that slot."),
    "bad_login": ("Usuário ou senha incorretos.", "Wrong login or password."),
    "expired": ("Sua sessão terminou; entre de novo.", "Your session has ended; log in again."),
    "unreachable": ("Sem contato com o serviço de integração; nada foi enviado. Tente de novo em instantes.",
                    "The integration service cannot be reached; nothing was sent. Try again in a moment."),
    "unanswered": ("O serviço de integração não respondeu; o comando pode ter sido executado: confira antes "
                   "de repetir.", "The integration service did not answer; the command may have been carried "
                   "out: check before repeating it."),
    "throttled": ("Muitas tentativas de entrar; aguarde alguns minutos.", "Too many login attempts; wait a few minutes."),
    "wire": ("O serviço de integração respondeu algo inválido; avise o administrador.",
             "The integration service sent an invalid reply; tell the administrator."),
})

# a command the PBX accepted but did not carry out (CommandFailed.reason)
FAILURES = Catalog({
    "transfer_aborted": ("A transferência para {target} não foi concluída: a central desistiu dela (ramal "
                         "inexistente?). A chamada continua com você.",
                         "The transfer to {target} did not happen: the PBX gave it up (no such extension?). "
                         "The call is still yours."),
    "transfer_not_started": ("A transferência para {target} não começou: a central não reconheceu o código de "
                             "transferência (o cliente pode ter ouvido os dígitos). A chamada continua com você.",
                             "The transfer to {target} did not start: the PBX did not take the transfer code "
                             "(the other party may have heard the digits). The call is still yours."),
    "target_no_answer": ("A transferência não foi concluída: {target} não atendeu. A chamada voltou para você.",
                         "The transfer did not happen: {target} did not answer. The call is back with you."),
    "target_busy": ("A transferência não foi concluída: {target} está ocupado. A chamada voltou para você.",
                    "The transfer did not happen: {target} is busy. The call is back with you."),
    "target_unavailable": ("A transferência não foi concluída: {target} não está disponível ou não existe. "
                           "A chamada voltou para você.",
                           "The transfer did not happen: {target} is unavailable or does not exist. "
                           "The call is back with you."),
    "hold_not_confirmed": ("A espera não foi confirmada: o telefone não colocou a chamada em espera; ela pode "
                           "continuar aberta. Use a tecla de espera do aparelho.",
                           "The hold was not confirmed: the phone did not put the call on hold; it may still be "
                           "open. Use the phone's hold key."),
    "resume_not_confirmed": ("A retomada não foi confirmada: o telefone não tirou a chamada da espera. Use a "
                             "tecla do aparelho.",
                             "Resuming was not confirmed: the phone did not take the call off hold. Use the "
                             "phone's key."),
})
UNKNOWN_TARGET = Catalog({"target": ("o destino", "the target")})


def failure_notice(event: CommandFailed) -> str:
    """What the agent is told when a command the PBX accepted did not happen."""
    return FAILURES(event.reason.value, target=event.target or UNKNOWN_TARGET("target"))


CAPABILITY_WORDS = {
    "dial": "discar", "answer": "atender", "hangup": "desligar", "blind_transfer": "transferência",
    "attended_transfer": "transferência com consulta", "hold": "espera", "park": "estacionar",
    "pickup": "capturar", "dtmf": "tons DTMF", "play_recording": "reproduzir gravação", "listen": "ouvir",
    "whisper": "sussurrar", "barge": "intervir",
}


def readable(exc: DomainError) -> str:
    if current_language() != "pt_BR":
        return str(exc)
    detail = str(exc)
    match exc:
        case Unauthorized():
            return T("bad_login") if exc.field == "login" else T("expired")
        case GatewayUnanswered():
            return T("unanswered")
        case GatewayUnreachable():
            return T("unreachable")
        case TooManyAttempts():
            return T("throttled")
        case WireError():
            return T("wire")
        case Reconnecting():
            return T("reconnecting")
        case Unsupported():
            return T("unsupported", what=CAPABILITY_WORDS.get(exc.field or "", exc.field or detail))
        case NotConnected():
            return T("not_connected", detail=detail)
        case DatabaseUnavailable():
            return T("crm_down")
        case NotAllowed() if exc.field in ("call_id", "role", "recording_ref", "extension"):
            return T(exc.field)
        case NotAllowed() if exc.field in ("number", "target"):
            return T(exc.field, detail=phone_reason(exc)[1] if "is not a phone number" in detail
                     else detail.split(": ", 1)[-1])
        case PbxError() if exc.field == "slot":
            return T("slot")
        case PbxError():
            return T("pbx_refused", detail=detail)
    return detail
