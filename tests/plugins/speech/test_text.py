"""Text helpers: t2s, punctuation, CER (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.plugins.speech.text import (
    cer,
    corpus_cer,
    edit_distance,
    normalize_transcript,
    scoring_form,
    strip_punctuation,
    to_simplified,
)


def test_traditional_to_simplified() -> None:
    assert to_simplified("廣州市房地產中介協會") == "广州市房地产中介协会"


def test_normalize_removes_cjk_spaces_and_fixes_punctuation() -> None:
    assert normalize_transcript(" 我 認為 跑步,很 重要. ") == "我认为跑步，很重要。"
    assert normalize_transcript("小区噪音，，。扰民") == "小区噪音，扰民"
    assert normalize_transcript("version 3.5 ok") == "version 3.5 ok"


def test_strip_punctuation_and_scoring_form() -> None:
    assert strip_punctuation("你好，世界！ ok?") == "你好世界ok"
    assert scoring_form("廣州， 市。") == "广州市"


def test_cer_examples() -> None:
    assert cer("每一天都要快乐喔", "每一天都要快樂喔。") == 0.0
    assert cer("广州市房地产", "广州市佛地产") == pytest.approx(1 / 6)
    assert cer("", "") == 0.0
    assert cer("", "多余") == 1.0
    assert corpus_cer([("一二三四", "一二三四"), ("五六", "五七")]) == pytest.approx(1 / 6)


@given(st.text(max_size=20), st.text(max_size=20))
def test_edit_distance_properties(a: str, b: str) -> None:
    d = edit_distance(a, b)
    assert d == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert (d == 0) == (a == b)
