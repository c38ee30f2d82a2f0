"""`tui-caa phone normalize`: how a caller ID or typed number is understood (for integrators)."""

from __future__ import annotations

import argparse
import sys

from tui_caa.config import Settings
from tui_caa.phones import InvalidPhoneNumber, NumberKind, check_ddd, dial_string, display, normalize


def normalize_command(args: argparse.Namespace, settings: Settings) -> int:
    rules = settings.caller_id
    if args.ddd:
        try:
            rules = rules.model_copy(update={"default_ddd": check_ddd(args.ddd, "--ddd")})
        except ValueError as exc:
            print(f"tui-caa: {exc}", file=sys.stderr)
            return 2
    try:
        number = normalize(args.number, rules)
    except InvalidPhoneNumber as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(number.e164 if number.kind is NumberKind.PHONE else number.kind.value)
    if args.explain:
        print(f"kind: {number.kind.value}")
        if number.e164:
            print(f"type: {number.number_type.value if number.number_type else 'unknown'}")
            print(f"display: {display(number.e164)}")
        print(f"rule: {number.rule or '-'}")
        if number.kind is not NumberKind.ANONYMOUS:
            dial_rules = settings.dialing
            if args.ddd and dial_rules.site_ddd is None:
                dial_rules = dial_rules.model_copy(update={"site_ddd": rules.default_ddd})
            print(f"dial string: {dial_string(number, dial_rules)}")
    return 0

