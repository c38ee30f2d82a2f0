"""`tui-caa gateway install`: a systemd unit that runs the gateway as a locked-down system service.

With XDG_DATA_HOME=/var/lib and XDG_CONFIG_HOME=/etc, `tui_caa.locations` (platformdirs) puts the data
in /var/lib/tui-caa (systemd's StateDirectory) and reads /etc/tui-caa/config.toml (its
ConfigurationDirectory), so the service needs no path of its own."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

from tui_caa.config import Settings

UNIT_NAME = "tui-caa-gateway.service"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
DEFAULT_USER = "tui-caa"
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")  # what useradd accepts on every distribution
# ProtectHome=yes makes these empty for the service: an interpreter or config there cannot be read
_HIDDEN_BY_PROTECT_HOME = ("/home/", "/root/", "/run/user/")


def add_install_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--print", action="store_true", help="print the unit on stdout; write nothing")
    parser.add_argument("--user", default=DEFAULT_USER, help=f"system user the service runs as (default {DEFAULT_USER})")
    parser.add_argument("--config", dest="unit_config", metavar="PATH",
                        help="settings file for the service (default: /etc/tui-caa/config.toml)")
    parser.add_argument("--unit-dir", default=DEFAULT_UNIT_DIR, help=f"where to write the unit (default {DEFAULT_UNIT_DIR})")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address the gateway serves the consoles on")


def systemd_quote(arg: str) -> str:
    """One ExecStart= word: systemd splits on blanks, reads C escapes in quotes and expands % and $."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and not re.search(r'[\s"\'\\;]', escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_start(python: str, config: str | None, listen: str | None) -> str:
    # --config is tui-caa's global option: before the command, where every command reads it
    words = [python, "-m", "tui_caa", *(["--config", config] if config else []), "gateway"]
    if listen:
        words += ["--listen", listen]
    return " ".join(systemd_quote(word) for word in words)


def render_unit(*, python: str, user: str, config: str | None, listen: str | None) -> str:
    return f"""\
# written by `tui-caa gateway install`; the PBX link and call recording of one site
[Unit]
Description=tui-caa gateway (PBX integration service)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart={exec_start(python, config, listen)}
User={user}
Group={user}
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=30
# data (CRM SQLite, outbox) in /var/lib/tui-caa, settings in /etc/tui-caa/config.toml
Environment=XDG_DATA_HOME=/var/lib XDG_CONFIG_HOME=/etc
StateDirectory=tui-caa
StateDirectoryMode=0700
ConfigurationDirectory=tui-caa
UMask=0077

# hardening: what a Python network service can live without
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
# no capabilities: listening on a port below 1024 would need CAP_NET_BIND_SERVICE in both lines
CapabilityBoundingSet=
AmbientCapabilities=
# MemoryDenyWriteExecute is left off on purpose: cffi/ctypes callbacks (argon2, ODBC) may need W+X pages

[Install]
WantedBy=multi-user.target
"""


def install_command(args: argparse.Namespace, settings: Settings) -> int:
    problem = _refusal(args)
    if problem:
        print(f"tui-caa: {problem}", file=sys.stderr)
        return 2
    python = os.path.abspath(sys.executable)  # not resolved: a venv's python finds its packages by its path
    config = os.path.abspath(args.unit_config) if args.unit_config else None
    unit = render_unit(python=python, user=args.user, config=config, listen=args.listen)
    for note in _notes(python, config, args.listen):
        print(f"note: {note}", file=sys.stderr)
    if args.print:
        sys.stdout.write(unit)
        return 0
    path = Path(args.unit_dir) / UNIT_NAME
    try:
        _write(path, unit)
    except OSError as exc:
        print(f"tui-caa: cannot write {path}: {exc.strerror or exc} (run it as root, or --print the unit)",
              file=sys.stderr)
        return 1
    print(f"wrote {path}")
    print(_next_steps(args.user, config))
    return 0


def _refusal(args: argparse.Namespace) -> str | None:
    if args.user == "root":
        return "--user root: the gateway talks to the network and holds the PBX and CRM passwords; " \
               "run it as its own unprivileged system user (the default, tui-caa)"
    if not _USER_NAME.fullmatch(args.user):
        return f"--user {args.user!r} is not a system user name (lower case letters, digits, _ and -)"
    if args.listen and not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}", args.listen):
        return f"--listen {args.listen!r}: expected HOST:PORT, e.g. 0.0.0.0:8700 or [::]:8700"
    return None


def _notes(python: str, config: str | None, listen: str | None) -> list[str]:
    notes = [f"{what} {path} is under a home folder, which ProtectHome= hides from the service; "
             f"{fix}" for what, path, fix in (
                 ("the interpreter", python, "install tui-caa in a venv under /opt (python3 -m venv /opt/tui-caa)"),
                 ("the settings file", config, "keep it in /etc/tui-caa"))
             if path and path.startswith(_HIDDEN_BY_PROTECT_HOME)]
    if listen and int(listen.rsplit(":", 1)[1]) < 1024:
        notes.append(f"port {listen.rsplit(':', 1)[1]} is below 1024: the unit grants no CAP_NET_BIND_SERVICE, "
                     "so pick a port from 1024 up (or add the capability to the unit yourself)")
    return notes


def _write(path: Path, unit: str) -> None:
    # 0644 whatever the umask: systemd and `systemctl cat` read units as any user
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o644)
        file.write(unit)


def _next_steps(user: str, config: str | None) -> str:
    settings_file = shlex.quote(config or "/etc/tui-caa/config.toml")  # shell lines: quoted for a shell
    folder = shlex.quote(os.path.dirname(config or "/etc/tui-caa/config.toml"))
    return "\n".join([
        "then, as root:",
        f"  useradd --system --user-group --no-create-home --home-dir /var/lib/tui-caa --shell /usr/sbin/nologin {user}",
        f"  install -d -m 0750 -o root -g {user} {folder}",
        f"  install -m 0640 -o root -g {user} config.toml {settings_file}   # it holds secrets",
        f"  install -d -m 0700 -o {user} -g {user} /var/lib/tui-caa",
        f"  runuser -u {user} -- env XDG_DATA_HOME=/var/lib XDG_CONFIG_HOME=/etc {shlex.quote(sys.executable)} -m tui_caa"
        f"{' --config ' + settings_file if config else ''} db init   # the CRM's schema and the site key (/var/lib/tui-caa/site.key: copy it to every admin machine)",
        "  systemctl daemon-reload",
        "  systemctl enable --now tui-caa-gateway",
        "  journalctl -u tui-caa-gateway -f",
    ])
