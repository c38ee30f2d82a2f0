"""Brazilian taxpayer documents: CPF (people, 11 digits) and CNPJ (companies, 14 digits)."""

from __future__ import annotations

from enum import StrEnum


class DocumentKind(StrEnum):
    CPF = "cpf"
    CNPJ = "cnpj"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _cpf_check_digit(digits: str) -> str:
    weight = len(digits) + 1
    total = sum(int(d) * (weight - i) for i, d in enumerate(digits))
    rest = total * 10 % 11
    return "0" if rest == 10 else str(rest)


def _cnpj_check_digit(digits: str) -> str:
    weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2][-len(digits):]
    rest = sum(int(d) * w for d, w in zip(digits, weights)) % 11
    return "0" if rest < 2 else str(11 - rest)


def cpf_with_check_digits(first_nine: str) -> str:
    """Completes a 9-digit CPF base with its two check digits (used by the demo data)."""
    first = _cpf_check_digit(first_nine)
    return first_nine + first + _cpf_check_digit(first_nine + first)


def cnpj_with_check_digits(first_twelve: str) -> str:
    """Completes a 12-digit CNPJ base (8 digits of the company + 4 of the branch)."""
    first = _cnpj_check_digit(first_twelve)
    return first_twelve + first + _cnpj_check_digit(first_twelve + first)


def parse_document(text: str) -> tuple[DocumentKind, str]:
    """Returns the kind and the bare digits of a CPF or CNPJ, or raises ValueError saying why."""
    digits = _digits(text)
    if any(ch.isalpha() for ch in text):
        raise ValueError(f"'{text}' has letters; a CPF has 11 digits and a CNPJ 14")
    if len(digits) == 11:
        kind = DocumentKind.CPF
        valid = digits[9:] == cpf_with_check_digits(digits[:9])[9:]
    elif len(digits) == 14:
        kind = DocumentKind.CNPJ
        valid = digits == cnpj_with_check_digits(digits[:12])
    else:
        raise ValueError(f"'{text}' has {len(digits)} digits; a CPF has 11 and a CNPJ 14")
    if len(set(digits)) == 1:
        valid = False  # 000.000.000-00 and the like pass the checksum but are never issued
    if not valid:
        raise ValueError(f"{kind.upper()} '{text}' has wrong check digits; check for a typo")
    return kind, digits


def format_document(digits: str) -> str:
    """123.456.789-09 for a CPF, 12.345.678/0001-95 for a CNPJ; other input is returned as is."""
    if len(digits) == 11:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if len(digits) == 14:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    return digits
