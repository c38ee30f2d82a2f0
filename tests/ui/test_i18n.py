import pytest

from tui_caa.ui import i18n


@pytest.mark.parametrize("env, expected", [
    ({"LANG": "pt_BR.UTF-8"}, "pt_BR"), ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "C.UTF-8"}, "pt_BR"),
    ({"LC_ALL": "es_ES.UTF-8", "LANG": "pt_BR.UTF-8"}, "en"), ({}, "pt_BR"), ({"LANG": "POSIX"}, "pt_BR"),
])
def test_language_follows_the_locale_portuguese_by_default(monkeypatch: pytest.MonkeyPatch, env, expected) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(i18n.locale, "getlocale", lambda: (None, None))
    assert i18n.detect_language() == expected


def test_catalog_in_both_languages() -> None:
    catalog = i18n.Catalog({"calls": ("{n} ligações", "{n} calls")})
    i18n.set_language("en")
    assert catalog("calls", n=2) == "2 calls"
    i18n.set_language("pt_BR")
    assert catalog("calls", n=2) == "2 ligações"
    with pytest.raises(ValueError, match="not one of pt_BR, en or auto"):
        i18n.set_language("fr")
