"""`IdtResultado`: Planetfone's one-letter result codes, per operation, as sentences.

The same letter means different things in different operations (the WSDL's own documentation):
`S` is "Sucesso" for DesligaChamada but "Sem resposta" (no answer) for Disca; `A` ("Atendido") is the
success of Disca and of the first step of TransfereComConsulta. So each operation lists its own
successes, and the codes it documents that differ from the common meaning.
"""

from __future__ import annotations

from tui_caa.pbx.base import PbxError
from tui_caa.pbx.planetfone.soap import Result

COMMON = {
    "S": "done (sucesso)",
    "E": "the PBX reported an error",
    "I": "the call does not exist (any more) on the PBX",
    "A": "answered",
    "O": "the number is busy",
    "N": "the number is not valid",
    "T": "nobody answered in time (timeout)",
    "D": "the consultation call does not exist",
    "C": "transfer completed",
}

#: operation -> (the codes that mean success, codes whose meaning differs from COMMON)
OPERATIONS: dict[str, tuple[frozenset[str], dict[str, str]]] = {
    "Disca": (frozenset("A"), {"S": "nobody answered (sem resposta)", "E": "the PBX could not place the call"}),
    "DesligaChamada": (frozenset("S"), {}),
    "TransfereChamada": (frozenset("SA"), {}),
    "TransfereComConsulta": (frozenset("ACS"), {"S": "nobody answered (sem resposta)"}),
    "EstacionaChamada": (frozenset("S"), {}),
    "CapturaLigacao": (frozenset("S"), {}),
    "BuscaGravacaoParaRamal": (frozenset("S"), {"I": "the recording does not exist on the PBX"}),
}

# TransfereComConsulta by step: C(onsulta) succeeds when the target answered (A), T(ransfere) when the
# transfer is concluded (C); R(etorna) takes the call back (its success code is not documented)
_CONSULT_STEP_OK = {"C": frozenset("A"), "T": frozenset("C"), "R": frozenset("ACS")}


class PlanetfoneRefused(PbxError):
    """The PBX answered the command with a failure code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def meaning(operation: str, code: str) -> str:
    _, special = OPERATIONS.get(operation, (frozenset(), {}))
    return special.get(code) or COMMON.get(code) or f"unknown result code '{code}'"


def check(operation: str, result: Result, what: str, *, step: str | None = None) -> Result:
    """Raises PlanetfoneRefused with a sentence unless the result's IdtResultado is a success."""
    code = result.get("IdtResultado").strip().upper()[:1]
    if operation == "TransfereComConsulta" and step is not None:
        ok = _CONSULT_STEP_OK.get(step, frozenset("ACS"))
    else:
        ok = OPERATIONS.get(operation, (frozenset("S"), {}))[0]
    if code in ok:
        return result
    if not code:
        raise PlanetfoneRefused(f"cannot {what}: the PBX's {operation} answer has no IdtResultado", code)
    detail = " ".join(t for t in (result.get("TextoErroOrigem"), result.get("TextoErroDestino")) if t)
    text = f"cannot {what}: {meaning(operation, code)} (Planetfone {operation} IdtResultado={code})"
    raise PlanetfoneRefused(text + (f": {detail}" if detail else ""), code)
