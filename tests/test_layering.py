"""DESIGN.md layering: only tui_caa.ui may import textual."""

import subprocess
import sys

import pytest

NON_UI_MODULES = [
    "tui_caa.domain", "tui_caa.phones", "tui_caa.crm", "tui_caa.config", "tui_caa.cli",
    "tui_caa.commands.db", "tui_caa.commands.phone", "tui_caa.crm.demo",
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
