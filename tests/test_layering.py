"""DESIGN.md layering: only tui_caa.ui may import textual."""

import subprocess
import sys

import pytest

NON_UI_MODULES = [
    "tui_caa.domain", "tui_caa.phones", "tui_caa.crm", "tui_caa.config", "tui_caa.cli",
    "tui_caa.commands.db", "tui_caa.commands.phone", "tui_caa.commands.users", "tui_caa.crm.demo",
]


@pytest.mark.parametrize("module", NON_UI_MODULES)
def test_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", f"{module} pulled in textual"


def test_domain_imports_nothing_else_of_the_project() -> None:
    code = (
        "import sys, tui_caa.domain;"
        "print(sorted(m for m in sys.modules if m.startswith('tui_caa.') and not m.startswith('tui_caa.domain')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_no_module_outside_ui_pulls_in_textual() -> None:
    """Every module of the package but tui_caa.ui, imported together: still no textual."""
    code = (
        "import pkgutil, sys, importlib, tui_caa\n"
        "names = [m.name for m in pkgutil.walk_packages(tui_caa.__path__, 'tui_caa.')\n"
        "         if not m.name.startswith('tui_caa.ui') and m.name != 'tui_caa.__main__'\n"
        "         and '.migrations' not in m.name]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names), 'textual' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, loaded = result.stdout.split()
    assert int(count) > 30 and loaded == "False"


def test_protocol_and_remote_session_stay_light() -> None:
    """What a remote console talks through never loads the CRM stack, the gateway or a driver
    (DESIGN.md: a remote console holds no database or PBX code or secret)."""
    code = (
        "import sys, tui_caa.protocol.api, tui_caa.protocol.wire, tui_caa.remote;"
        "print(sorted({m for m in sys.modules if m.split('.')[:2] in (['tui_caa', 'crm'], ['tui_caa', 'gateway'],"
        " ['tui_caa', 'server'], ['tui_caa', 'pbx']) or m in ('sqlalchemy', 'alembic', 'textual')}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
