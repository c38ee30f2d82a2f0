"""A remote console (`tui-caa --gateway URL`) never loads the CRM stack, the gateway, the HTTP server
or a driver (DESIGN.md, "Deployment shapes"; issue 16: they also cost its start-up time)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the real `tui-caa --gateway URL` path (cli.main → start._remote_console → CaaApp), run headless
# until the login screen is up; then what is loaded is printed and the console quits
CHILD = r"""
import json, sys
from tui_caa import cli
from tui_caa.ui.app import CaaApp

loaded = []
run_async, on_mount = CaaApp.run_async, CaaApp.on_mount

def mounted(self):
    on_mount(self)

    def check():
        if type(self.screen).__name__ == "LoginScreen":
            loaded.extend(sys.modules)
            self.exit()

    self.set_interval(0.02, check)

async def headless(self, **kwargs):
    kwargs.pop("mouse", None)
    return await run_async(self, headless=True, size=(120, 40))

CaaApp.on_mount, CaaApp.run_async = mounted, headless
code = cli.main(["--gateway", "http://127.0.0.1:9"])
print(json.dumps({"code": code, "modules": loaded}))
"""

HEAVY_THIRD_PARTY = ("sqlalchemy", "alembic", "aiosqlite", "aiomysql", "aioodbc", "asyncpg", "starlette",
                     "uvicorn", "argon2")
PROJECT_NOT_LOADED = ("tui_caa.crm", "tui_caa.gateway", "tui_caa.server", "tui_caa.commands.db")
DRIVERS = ("tui_caa.pbx.sim", "tui_caa.pbx.asterisk", "tui_caa.pbx.digitro", "tui_caa.pbx.forip",
           "tui_caa.pbx.planetfone", "tui_caa.pbx.link", "tui_caa.pbx.base")


def test_remote_console_first_frame_loads_no_crm_gateway_or_driver(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": str(ROOT), "TUI_CAA_LANGUAGE": "en"}
    result = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    modules = set(figures["modules"])
    assert figures["code"] == 0 and "tui_caa.ui.screens.login" in modules  # the login screen was up
    top = {name.split(".")[0] for name in modules}
    assert sorted(top & set(HEAVY_THIRD_PARTY)) == []
    project = sorted(m for m in modules if m.startswith(PROJECT_NOT_LOADED + DRIVERS))
    assert project == []
