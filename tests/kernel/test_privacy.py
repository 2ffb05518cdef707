"""Personal data masks (个人信息脱敏), pure: phone and ID numbers in free text, names, event payloads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.domain.privacy import (
    FULL_DATA_ROLES,
    mask_name,
    mask_numbers,
    name_for_role,
    payload_for_role,
    phone_for_role,
    text_for_role,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请回电13812348000谢谢", "请回电138****8000谢谢"),
        ("电话 138-1234-8000 或 138 1234 8000", "电话 138****8000 或 138****8000"),
        ("+86 13812348000", "138****8000"),
        ("座机010-65123456", "座机010****3456"),
        ("本地号65123456", "本地号6***3456"),
        ("身份证110101199003071234，", "身份证110101********1234，"),
        ("身份证号11010119900307123x", "身份证号110101********123x"),
        ("旧身份证110101900307123", "旧身份证110101******123"),
        ("银行卡6222021234567890123", "银行卡622****0123"),
    ],
)
def test_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "见工单2026112200042",  # a case number is not personal
        "2026-03-01 停水",
        "20260301起",
        "3号楼12单元502",
        "欠薪 120000 元",
        "承办单位B110101-SW",
        "",
    ],
)
def test_case_numbers_dates_and_short_numbers_stay(text: str) -> None:
    assert mask_numbers(text) == text


@given(st.text(alphabet="0123456789 -号楼电话身份证", max_size=60))
def test_no_run_of_more_than_four_revealed_digits_survives(text: str) -> None:
    """After masking, no 8 consecutive digits remain unless they are a date or a case number."""
    import re

    for run in re.findall(r"\d{8,}", mask_numbers(text) or ""):
        assert re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(\d{5})?", run), run


def test_roles() -> None:
    assert {"agent", "supervisor", "admin", "system"} == FULL_DATA_ROLES
    for role in FULL_DATA_ROLES:
        assert name_for_role("张三丰", role) == "张三丰"
        assert phone_for_role("13812348000", role) == "13812348000"
        assert text_for_role("电话13812348000", role) == "电话13812348000"
    for role in ("unit_handler", "someone"):
        assert name_for_role("张三丰", role) == "张**"
        assert phone_for_role("13812348000", role) == "138****8000"
        assert text_for_role("电话13812348000", role) == "电话138****8000"
    assert mask_name(None) is None and mask_name("") == ""


def test_event_payloads_are_masked_for_unit_handlers_only() -> None:
    payload = {
        "number": "2026112200042",
        "unit_code": "S110101001",
        "caller_phone": "13812348000",
        "caller_name": "张三丰",
        "reason": "居民电话13812348000要求回电",
        "data": {"text": "身份证110101199003071234", "hours": 24},
        "co_unit_codes": ["B110101-SW"],
    }
    assert payload_for_role(payload, "agent") == payload
    masked = payload_for_role(payload, "unit_handler")
    assert masked == {
        "number": "2026112200042",
        "unit_code": "S110101001",
        "caller_phone": "138****8000",
        "caller_name": "张**",
        "reason": "居民电话138****8000要求回电",
        "data": {"text": "身份证110101********1234", "hours": 24},
        "co_unit_codes": ["B110101-SW"],
    }
    assert payload["caller_name"] == "张三丰"  # the input is not changed
