"""The console's keys: every binding with an id (what F1 lists and `[keymap]` may change), and the
check of a `[keymap]` before the console starts.

A `[keymap]` is refused, with each problem named, when it names an id that does not exist, gives an
action a key that common terminals (xterm, GNOME Terminal, Windows Terminal, tmux, PuTTY) do not
deliver as that key, or takes a key another action already uses where both are in force (the
quit key mapped to "answer" once left the console without a way out)."""

from __future__ import annotations

import difflib
import pkgutil
import sys
from dataclasses import dataclass
from importlib import import_module

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import _character_to_key

from tui_caa.ui.i18n import Catalog, in_current_language

T = Catalog({
    "unknown_id": ("[keymap] \"{id}\": não existe essa ação{close}; F1 no console lista todas com seus ids",
                   "[keymap] \"{id}\": there is no such action{close}; F1 in the console lists them all with their ids"),
    "did_you_mean": (" (seria {ids}?)", " (did you mean {ids}?)"),
    "undelivered": ("[keymap] \"{id}\" = \"{shortcut}\": {reason}; escolha F1…F12 ou ctrl+letra",
                    "[keymap] \"{id}\" = \"{shortcut}\": {reason}; choose F1…F12 or ctrl+letter"),
    "taken": ("[keymap] \"{id}\" = \"{shortcut}\": essa tecla já é de \"{other}\" ({description}) em {where}",
              "[keymap] \"{id}\" = \"{shortcut}\": that key already belongs to \"{other}\" ({description}) on {where}"),
    "reserved": ("[keymap] \"{id}\" = \"{shortcut}\": essa tecla é do próprio terminal ou do console ({what})",
                 "[keymap] \"{id}\" = \"{shortcut}\": that key belongs to the terminal or the console itself ({what})"),
    "empty": ("[keymap] \"{id}\": sem tecla", "[keymap] \"{id}\": no key given"),
    "alt_symbol": ("muitos terminais enviam alt+{base} como um caractere (¡ ™ £ ¢), não como tecla",
                   "many terminals send alt+{base} as a character (¡ ™ £ ¢), not as a key"),
    "ctrl_digit": ("os terminais enviam ctrl+{base} como o próprio dígito ou nada",
                   "terminals send ctrl+{base} as the digit itself or not at all"),
    "ctrl_shift": ("um terminal não distingue ctrl+shift+{base} de ctrl+{base}",
                   "a terminal cannot tell ctrl+shift+{base} from ctrl+{base}"),
    "alias": ("o terminal envia {shortcut} como {same}", "the terminal sends {shortcut} as {same}"),
    "no_such_key": ("os terminais comuns não têm essa tecla", "common terminals have no such key"),
    "everywhere": ("todas as telas", "every screen"),
    "focus": ("mudar de campo", "move between fields"),
    "copy": ("copiar / interromper", "copy / interrupt"),
})

# the packages whose classes may declare bindings (imported when the keys are listed or checked)
_PACKAGES = ("tui_caa.ui.screens", "tui_caa.ui.widgets")
_FIRST = ("tui_caa.ui.screens.agent", "tui_caa.ui.screens.monitor", "tui_caa.ui.screens.history",
          "tui_caa.ui.screens.customer")
# a key a terminal turns into another: what it really sends
_ALIASES = {"ctrl+i": "tab", "ctrl+m": "enter", "ctrl+j": "enter", "ctrl+h": "backspace",
            "ctrl+left_square_bracket": "escape", "ctrl+[": "escape"}
_MODIFIERS = ("ctrl", "alt", "shift")
# Textual's names of the printable ASCII keys: slash, question_mark, full_stop…
_PRINTABLE_NAMES = frozenset(_character_to_key(chr(code)) for code in range(32, 127))
_NAMED = {"enter", "escape", "tab", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
          "up", "down", "left", "right", "space", *(f"f{n}" for n in range(1, 13))}


@dataclass(frozen=True)
class KeyBinding:
    id: str
    keys: tuple[str, ...]  # as declared (before the keymap)
    description: str
    owner: type  # the app, screen or widget that declares it


def _owners() -> list[type]:
    """The app first, then every class of the console's screens and widgets that declares bindings."""
    from tui_caa.ui.app import CaaApp

    names = []
    for package_name in _PACKAGES:
        package = import_module(package_name)
        names += [f"{package_name}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    # the help lists the screens a seller meets first, first
    names.sort(key=lambda name: (_FIRST.index(name) if name in _FIRST else len(_FIRST), name))
    modules = [import_module(name) for name in names]
    owners: list[type] = [CaaApp]
    for module in modules:
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, DOMNode) and value.__module__ == module.__name__
                    and "BINDINGS" in vars(value) and value not in owners):
                owners.append(value)
    return owners


def all_bindings() -> list[KeyBinding]:
    """Every binding of the console that has an id, once, in the order the help lists them."""
    found: dict[str, KeyBinding] = {}
    for owner in _owners():
        for binding in vars(owner).get("BINDINGS", []):
            if isinstance(binding, Binding) and binding.id and binding.id not in found:
                keys = tuple(k.strip() for k in binding.key.split(","))
                found[binding.id] = KeyBinding(binding.id, keys, binding.description, owner)
    return list(found.values())


def undelivered(key: str) -> str | None:
    """Why common terminals do not deliver `key` as itself; None when they do."""
    key = key.strip()
    if key.lower() in _ALIASES:
        return T("alias", shortcut=key, same=_ALIASES[key.lower()])
    *mods, base = key.split("+")
    mods = [m.lower() for m in mods]
    if any(m not in _MODIFIERS for m in mods) or not base:
        return T("no_such_key")
    if len(base) > 1:  # a name: f5, enter, slash (Textual's names of printable keys)
        base = base.lower()
        if base not in _NAMED and base not in _PRINTABLE_NAMES:
            return T("no_such_key")
    if "alt" in mods and len(base) == 1 and not base.isalpha():
        return T("alt_symbol", base=base)
    if "ctrl" in mods and base.isdigit():
        return T("ctrl_digit", base=base)
    if "ctrl" in mods and "shift" in mods and len(base) == 1:
        return T("ctrl_shift", base=base)
    return None


def _reserved() -> dict[str, str]:
    """Keys the terminal or Textual keep for themselves on every screen."""
    return {"tab": T("focus"), "shift+tab": T("focus"), "ctrl+c": T("copy")}


def keymap_problems(keymap: dict[str, str]) -> list[str]:
    """What is wrong with a `[keymap]` (id -> "key" or "key1,key2"), one sentence each."""
    bindings = {b.id: b for b in all_bindings()}
    problems: list[str] = []
    unknown = sorted(set(keymap) - set(bindings))
    for binding_id in unknown:
        close = difflib.get_close_matches(binding_id, bindings, n=3, cutoff=0.6)
        problems.append(T("unknown_id", id=binding_id, close=T("did_you_mean", ids=", ".join(close)) if close else ""))
    in_force = {b.id: tuple(k.strip() for k in keymap[b.id].split(",") if k.strip())
                if b.id in keymap else b.keys for b in bindings.values()}
    reserved = _reserved()
    for binding_id in sorted(set(keymap) & set(bindings)):
        keys = in_force[binding_id]
        if not keys:
            problems.append(T("empty", id=binding_id))
        for key in keys:
            if reason := undelivered(key):
                problems.append(T("undelivered", id=binding_id, shortcut=key, reason=reason))
            elif key in reserved:
                problems.append(T("reserved", id=binding_id, shortcut=key, what=reserved[key]))
            else:
                problems.extend(_taken(binding_id, key, bindings, in_force))
    return problems


def _taken(binding_id: str, key: str, bindings: dict[str, KeyBinding],
           in_force: dict[str, tuple[str, ...]]) -> list[str]:
    """The other actions that already answer `key` where `binding_id` is in force: the app's keys
    are in force on every screen; a screen's or a widget's only there (and with the app's)."""
    mine = bindings[binding_id]
    found = []
    for other in bindings.values():
        if other.id == binding_id or key not in in_force[other.id]:
            continue
        app_wide = issubclass(mine.owner, App) or issubclass(other.owner, App)
        if app_wide or other.owner is mine.owner:
            where = T("everywhere") if issubclass(other.owner, App) else other.owner.__name__
            found.append(T("taken", id=binding_id, shortcut=key, other=other.id, description=other.description,
                           where=where))
    return found


def translate_loaded_bindings() -> None:
    """The key descriptions of the console's classes imported so far, in the current language (a
    class says its bindings once, in the language of the moment it was imported; one imported
    later is in the right language already)."""
    from dataclasses import replace

    def subclasses(cls: type) -> list[type]:
        found = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    owners = [cls for cls in {DOMNode, *subclasses(DOMNode)}
              if cls.__module__.startswith("tui_caa.ui") and "BINDINGS" in vars(cls)]
    for owner in owners:
        catalog = getattr(sys.modules.get(owner.__module__), "T", None)  # the module's own strings
        catalog = catalog if isinstance(catalog, Catalog) else None
        owner.BINDINGS = [  # type: ignore[attr-defined]
            replace(b, description=in_current_language(b.description, catalog),
                    tooltip=in_current_language(b.tooltip, catalog))
            if isinstance(b, Binding) else b for b in vars(owner)["BINDINGS"]]
    for owner in owners:
        for cls in (owner, *subclasses(owner)):
            cls._merged_bindings = cls._merge_bindings()  # what Textual computed when the class was made
