"""The Dígitro PABX API as this driver speaks it: operation paths, event names, field names and codes.

What is CONFIRMED by the public "API PABX Dígitro" (docs-pabx.digitro.com, see
`reference/pbx-protocols.md` §1.1):
- every command is `POST /requests/{channelID}/<operation>` with the header `x-api-key`, where the
  channel id comes from the event `EVENTO_DE_ABERTURA_DE_CANAL` of an event channel opened first;
- the body fields `DISPOSITIVO`, `SENHA_DISPOSITIVO`, `ID_CHAMADA` (e.g. "08/07/24 10:46:19 010A 0974/00"),
  `DISPOSITIVO_DESTINO`, and for "Gerar chamada utilizando uma rota específica" `ROTA`, `CONTA`, `SENHA`
  (usually null), `IDENTIDADE_DESTINO`, whose response carries `ID_CHAMADA`;
- that the operations exist: answer, end call, hold, retrieve, barge-in ("intercalar"), transfer to
  paused device, immediate transfer, end current and reconnect held call, park, pick up parked call,
  pick up call, send DTMF, state queries ("Consultas e Informações");
- only two path slugs are public: `chamada-preditiva` and `executa-desvio` (neither is used here);
- Dígitro's Interact CTI delivers events as W3C Server-Sent Events with an empty data packet as
  heartbeat, and its channels expire unless renewed (Neo Interact: `expires: 900`).

ASSUMED (not public; every one is overridable in `[pbx.digitro]`, see `DigitroOptions`):
- every path slug in `OPERATIONS` below, and the channel endpoint `GET <base>/canal-de-eventos`;
- that the PABX channel is SSE too, that devices are subscribed with `monitorar-dispositivo` and that a
  channel is kept alive with `renovar-canal`;
- the state query `consultar-estado-dispositivo` (one device: its `ESTADO` and its `CHAMADAS`) used
  to resync after every (re)open;
- every event name except `EVENTO_DE_ABERTURA_DE_CANAL` (they follow its naming style), and the
  data fields `ID_CANAL`, `SENTIDO`, `IDENTIDADE_REMOTA`, `NOME_ORIGINADOR`, `DDR`, `MOTIVO`, `ESTADO`,
  `POSICAO`, `DIGITOS`, `ID_GRAVACAO`, `CONSULTA`, and the error body `{"CODIGO", "MENSAGEM"}`;
- the state and reason codes in the tables at the end of this module.
"""

from __future__ import annotations

from types import MappingProxyType

from tui_caa.domain.telephony import CallState, Direction, Disposition, ExtensionState

#: operation → path slug under `/requests/{channelID}/`. Every slug is ASSUMED (see above).
OPERATIONS: MappingProxyType[str, str] = MappingProxyType({
    "monitor": "monitorar-dispositivo",  # subscribe one device's events to the channel
    "renew": "renovar-canal",  # keep the channel alive
    "state": "consultar-estado-dispositivo",  # "Consultas e Informações": a device's state and calls
    "dial": "gerar-chamada-rota",  # "Gerar chamada utilizando uma rota específica" (ROTA, CONTA, SENHA)
    "answer": "atender-chamada",
    "hangup": "encerrar-chamada",  # "encerrar chamada em curso"
    "hold": "reter-chamada",
    "retrieve": "recuperar-chamada-retida",
    "blind_transfer": "transferencia-imediata",
    "consult": "transferir-para-dispositivo-em-pausa",  # the call waits (held) while the target is called
    "complete_transfer": "concluir-transferencia",  # NOT in the public list at all: assumed
    "cancel_transfer": "encerrar-atual-e-reconectar-retida",  # "encerrar atual e reconectar retida"
    "park": "estacionar-chamada",
    "pickup_parked": "capturar-chamada-estacionada",
    "pickup": "capturar-chamada",
    "dtmf": "enviar-dtmf",
    "barge": "intercalar",
})

#: what an event means → its Dígitro name. Only the first is CONFIRMED; the rest are ASSUMED.
#: Data of every call event: DISPOSITIVO, ID_CHAMADA, SENTIDO, IDENTIDADE_REMOTA, and DDR on inbound.
EVENTS: MappingProxyType[str, str] = MappingProxyType({
    "channel_opened": "EVENTO_DE_ABERTURA_DE_CANAL",  # ID_CANAL
    "ringing": "EVENTO_DE_CHAMADA_RECEBIDA",  # + NOME_ORIGINADOR
    "dialing": "EVENTO_DE_CHAMADA_GERADA",
    "answered": "EVENTO_DE_ATENDIMENTO",
    "held": "EVENTO_DE_RETENCAO",
    "retrieved": "EVENTO_DE_RECUPERACAO",
    "consulting": "EVENTO_DE_CONSULTA",  # + DISPOSITIVO_DESTINO
    "transferred": "EVENTO_DE_TRANSFERENCIA",  # + DISPOSITIVO_DESTINO, CONSULTA (bool), ID_GRAVACAO
    "parked": "EVENTO_DE_ESTACIONAMENTO",  # + POSICAO, ID_GRAVACAO
    "ended": "EVENTO_DE_FIM_DE_CHAMADA",  # + MOTIVO, ID_GRAVACAO
    "device_state": "EVENTO_DE_ESTADO_DO_DISPOSITIVO",  # DISPOSITIVO, ESTADO
})

# ---- field names (CONFIRMED unless marked) ----
DEVICE = "DISPOSITIVO"
DEVICE_PASSWORD = "SENHA_DISPOSITIVO"
CALL_ID = "ID_CHAMADA"
TARGET_DEVICE = "DISPOSITIVO_DESTINO"
ROUTE, ACCOUNT, ACCOUNT_PASSWORD, DESTINATION = "ROTA", "CONTA", "SENHA", "IDENTIDADE_DESTINO"
CHANNEL_ID = "ID_CANAL"  # assumed
DIRECTION = "SENTIDO"  # assumed
REMOTE = "IDENTIDADE_REMOTA"  # assumed: the other party of the call
ORIGINATOR = "IDENTIDADE_ORIGINADOR"  # confirmed as a body field; read as the caller when REMOTE is missing
CALLER_NAME = "NOME_ORIGINADOR"  # assumed
REASON = "MOTIVO"  # assumed
STATE = "ESTADO"  # assumed
CALLS = "CHAMADAS"  # assumed: the calls of a state query
SLOT = "POSICAO"  # assumed: the parking position
DIGITS = "DIGITOS"  # assumed
CONSULTED = "CONSULTA"  # assumed
ERROR_CODE, ERROR_MESSAGE = "CODIGO", "MENSAGEM"  # assumed
DEVICE_PASSWORD_ERROR = "SENHA_DISPOSITIVO_INVALIDA"  # assumed error code

# ---- codes (ASSUMED) ----
DIRECTIONS = MappingProxyType({"ENTRADA": Direction.INBOUND, "SAIDA": Direction.OUTBOUND,
                               "INTERNA": Direction.INTERNAL})
DEVICE_STATES = MappingProxyType({
    "LIVRE": ExtensionState.IDLE, "CHAMANDO": ExtensionState.RINGING, "DISCANDO": ExtensionState.DIALING,
    "OCUPADO": ExtensionState.IN_CALL, "RETIDO": ExtensionState.ON_HOLD, "NAO_PERTURBE": ExtensionState.DND,
    "DESCONECTADO": ExtensionState.OFFLINE,
})
CALL_STATES = MappingProxyType({
    "CHAMANDO": CallState.RINGING, "DISCANDO": CallState.DIALING, "CONVERSANDO": CallState.ACTIVE,
    "RETIDA": CallState.HELD, "CONSULTANDO": CallState.CONSULTING,
})
REASONS = MappingProxyType({
    "ATENDIDA": Disposition.ANSWERED, "NAO_ATENDIDA": Disposition.NO_ANSWER, "OCUPADO": Disposition.BUSY,
    "ABANDONADA": Disposition.ABANDONED, "FALHA": Disposition.FAILED, "TRANSFERIDA": Disposition.TRANSFERRED,
})


def code_of(table: MappingProxyType, value: object) -> str:
    """The Dígitro code for a domain value (the fake server speaks with these)."""
    for code, domain in table.items():
        if domain == value:
            return code
    raise KeyError(value)
