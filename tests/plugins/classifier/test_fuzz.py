"""Arbitrary text never makes the suggester or the place extractor raise."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.catalogue import Catalogue
from callcenter.plugins.classifier.places import extract_places
from callcenter.plugins.classifier.suggester import Suggester

pytestmark = pytest.mark.slow

CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
PIECES = st.sampled_from(
    ["东城区", "街道", "路与", "路交叉口", "小区", "号楼", "十二", "社区", "村", "，", "😀", "路", " "]
)
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(CHINESE, PIECES, st.characters()), max_size=80).map("".join),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=TEXT)
def test_suggest_never_raises(suggester: Suggester, catalogue: Catalogue, text: str) -> None:
    data = suggester.suggest(text).to_dict()
    if data["no_suggestion_reason"] is None:
        assert len(data["matters"]) == 3
        assert all(m["code"] in catalogue.matters for m in data["matters"])
    else:
        assert data["matters"] == []
    place = extract_places(text, catalogue)
    assert 0.0 <= place.confidence <= 1.0
