"""Bad input: clear reasons, never an exception escaping."""

from __future__ import annotations

import pytest

from callcenter.plugins.classifier.text import MAX_TEXT_CHARS, NoSuggestion, check_text, cut, decode_utf8


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("。，！？……——", "no_content"),
        ("!!! ??? ...", "no_content"),
        ("😀😡🙏", "no_content"),
        ("The street light is broken", "no_chinese"),
        ("12345", "no_chinese"),
        ("路灯" * (MAX_TEXT_CHARS // 2 + 1), "too_long"),
        ("井" * 100_000, "too_long"),
        (None, "not_text"),
        (42, "not_text"),
    ],
)
def test_reasons(text: object, reason: str) -> None:
    with pytest.raises(NoSuggestion) as info:
        check_text(text)
    assert info.value.reason == reason
    assert info.value.message


def test_normalises_mixed_text() -> None:
    assert check_text("  ＡＢＣ小区\x00  路灯\n\n坏了 😀 ") == "ABC小区 路灯 坏了 😀"


def test_invalid_utf8() -> None:
    with pytest.raises(NoSuggestion) as info:
        decode_utf8(b"\xff\xfe\xfa bad")
    assert info.value.reason == "invalid_utf8"
    assert decode_utf8("路灯".encode()) == "路灯"


def test_cut_drops_punctuation() -> None:
    words = cut("楼下饭馆的油烟，太大了！")
    assert "油烟" in words
    assert "，" not in words and "！" not in words
