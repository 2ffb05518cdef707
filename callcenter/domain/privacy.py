"""Masking of citizens' personal data (个人信息脱敏) for roles that do not need it."""

from __future__ import annotations

import re

#: Roles that see full phone numbers: they call the citizen back or verify identity.
FULL_PHONE_ROLES = frozenset({"agent", "supervisor", "admin", "system"})

_DIGITS = re.compile(r"\d")


def mask_phone(phone: str | None) -> str | None:
    """``13812348000`` → ``138****8000``; landlines keep area code and last 4 digits."""
    if not phone:
        return phone
    digits = "".join(_DIGITS.findall(phone))
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    if len(digits) >= 7:
        return digits[:-7] + "***" + digits[-4:]
    return "*" * len(digits)


def phone_for_role(phone: str | None, role: str) -> str | None:
    return phone if role in FULL_PHONE_ROLES else mask_phone(phone)


def mask_name(name: str | None) -> str | None:
    """``张三丰`` → ``张**``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
