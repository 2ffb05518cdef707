"""Masking of citizens' personal data (个人信息脱敏) for roles that do not need it — pure.

Who sees what (docs/case-core.md, "Personal data"):

* **agent, supervisor, admin, system** see everything: they talk to the citizen, call back, verify
  identity and review the work.
* **unit_handler** (承办单位) sees what it needs to handle the matter — what happened, where, the
  deadlines — but not who called: the caller's phone masked (``138****8000``), the name masked
  (``张**``), and phone, ID-card and other long numbers in free text (description, feedback, reasons,
  notes, timeline) masked (:func:`mask_numbers`). A unit that must reach the citizen asks the center,
  which calls back.
* any other or unknown role: masked like a unit handler.

:class:`callcenter.api.schemas.CaseOut` applies it to every case reply (read, search list, transitions,
timeline) and :func:`payload_for_role` to the console's live events; there is no other export of cases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Roles that see citizens' personal data in full.
FULL_DATA_ROLES = frozenset({"agent", "supervisor", "admin", "system"})
#: Roles that see full phone numbers (the same roles: kept as its own name for existing callers).
FULL_PHONE_ROLES = FULL_DATA_ROLES

#: Payload keys that hold a phone number, a person's name, or free text, in events and replies.
PHONE_FIELDS = frozenset({"caller_number", "caller_phone", "phone"})
NAME_FIELDS = frozenset({"caller_name"})
TEXT_FIELDS = frozenset(
    {
        "description",
        "address",
        "reason",
        "text",
        "note",
        "answer",
        "feedback_text",
        "extension_reason",
        "kpi_exclusion_reason",
    }
)

_DIGITS = re.compile(r"\d")
#: A run of at least 7 digits, optionally with single spaces or hyphens between digit groups, an
#: optional +86 / 0086 prefix, and an optional X check character (18-character ID numbers).
_LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:(?:\+|00)86[ -]?)?\d(?:[ -]?\d){6,}[Xx]?(?![0-9A-Za-z])")
_CASE_NUMBER = re.compile(r"^20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{5}$")
_DATE = re.compile(r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")


def sees_personal_data(role: str) -> bool:
    return role in FULL_DATA_ROLES


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


def name_for_role(name: str | None, role: str) -> str | None:
    return name if sees_personal_data(role) else mask_name(name)


def _mask_number(match: re.Match[str]) -> str:
    raw = match.group(0)
    compact = re.sub(r"[ -]", "", raw)
    if _CASE_NUMBER.match(compact) or _DATE.match(compact):
        return raw  # a case number (工单编号) or a date: not personal
    if len(compact) == 18 and compact[:17].isdigit():  # 居民身份证号: region code and last 4 kept
        return compact[:6] + "*" * 8 + compact[-4:]
    if len(compact) == 15 and compact.isdigit():  # first-generation ID number
        return compact[:6] + "*" * 6 + compact[-3:]
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            compact = compact[len(prefix) :]
    return mask_phone(compact) or raw


def mask_numbers(text: str | None) -> str | None:
    """Mask phone, ID-card and other numbers of 7 digits or more in free text.

    ``请回电13812348000`` → ``请回电138****8000``; ``身份证110101199003071234`` →
    ``身份证110101********1234``; ``010-65123456`` → ``010****3456`` (numbers keep their last 4
    digits). Case numbers (``2026112200042``), dates (``20260301``) and short numbers (house numbers,
    amounts under a million) are left as they are.
    """
    if not text:
        return text
    return _LONG_NUMBER.sub(_mask_number, text)


def text_for_role(text: str | None, role: str) -> str | None:
    return text if sees_personal_data(role) else mask_numbers(text)


def _masked(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if key in PHONE_FIELDS:
            return mask_phone(value)
        if key in NAME_FIELDS:
            return mask_name(value)
        if key in TEXT_FIELDS:
            return mask_numbers(value)
        return value
    if isinstance(value, Mapping):
        return {k: _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(key, v) for v in value]
    return value


def payload_for_role(data: Mapping[str, Any], role: str) -> dict[str, Any]:
    """An event payload (or any JSON object) with phones, names and free text masked for ``role``
    (nested objects too); unchanged for roles that see personal data."""
    if sees_personal_data(role):
        return dict(data)
    return {k: _masked(str(k), v) for k, v in data.items()}
