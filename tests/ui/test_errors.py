import pytest

from tui_caa.crm import DatabaseUnavailable
from tui_caa.pbx.base import PbxError, Unsupported
from tui_caa.protocol.principal import NotAllowed, Reconnecting
from tui_caa.ui import i18n
from tui_caa.ui.errors import readable


@pytest.mark.parametrize("error, portuguese", [
    (Reconnecting("the PBX link is reconnecting", field="link"), "sendo restabelecida"),
    (Unsupported("hold is not supported by X", field="hold"), "não oferece esta função: espera"),
    (DatabaseUnavailable("CRM database x is unavailable: refused"), "O CRM não está respondendo"),
    (NotAllowed("call c1 is on extension 1001, not on yours (1002)", field="call_id"), "não está no seu ramal"),
    (NotAllowed("cannot dial: '12a' is not a phone number: contains letters", field="number"),
     "Número inválido para discar: tem letras ou símbolos"),
    (PbxError("extension 1001 is busy"), "A central recusou: extension 1001 is busy"),
    (PbxError("parking slot 702 is empty: no call is parked there", field="slot"),
     "Não há chamada estacionada nessa vaga."),
])
def test_refusals_in_portuguese_and_as_said_in_english(error, portuguese: str) -> None:
    i18n.set_language("pt_BR")
    assert portuguese in readable(error)
    i18n.set_language("en")
    assert readable(error) == str(error)
    i18n.set_language("pt_BR")
