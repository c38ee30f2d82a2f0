"""Issue 11 item 5 (phones, config): arbitrary input gives a result or the module's own error,
never another exception, in bounded time and with bounded output."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_caa.config import ConfigError, Settings, load_settings
from tui_caa.phones import DialRules, InvalidPhoneNumber, dial_string, normalize, normalize_phone

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
phoneish = st.text(alphabet=st.sampled_from("0123456789+()- *#;:@abcsip\x00\x1b\u00a0٣"), max_size=60) | st.text(max_size=400)


@FUZZ
@given(phoneish)
def test_phone_normalisation_never_raises_anything_else(raw: str) -> None:
    for work in (lambda: normalize(raw, default_ddd="51"), lambda: normalize_phone(raw),
                 lambda: dial_string(raw, DialRules(site_ddd="51"))):
        try:
            work()
        except InvalidPhoneNumber as exc:
            assert len(str(exc)) < 400


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_config_file_gives_settings_or_a_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    try:
        assert isinstance(load_settings(path), Settings)
    except ConfigError as exc:
        assert len(str(exc)) < 20 * 400


@FUZZ
@given(st.sampled_from(["TUI_CAA_DDD", "TUI_CAA_KEYMAP", "TUI_CAA_DATABASE", "TUI_CAA_DATABASE__URL",
                        "TUI_CAA_DIALING", "TUI_CAA_GATEWAY__SESSION_HOURS", "TUI_CAA_ROLE", "TUI_CAA_X"]),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300))
def test_any_environment_value_gives_settings_or_a_config_error(name: str, value: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, value)
        try:
            load_settings()
        except ConfigError as exc:
            assert len(str(exc)) < 20 * 400
