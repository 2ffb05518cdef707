"""Repeat complaints (屡诉 / 屡治屡返 / 多人反映同一事件): pure detection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.domain.repeats import (
    RepeatCase,
    bigrams,
    for_case,
    place_of,
    recurring_places,
    repeat_callers,
    similarity,
    text_clusters,
)

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
D = timedelta(days=1)


def case(n: int, at: datetime, **kw: object) -> RepeatCase:
    base: dict[str, object] = {"matter_code": "0601001", "street_code": "110101001"}
    return RepeatCase(number=f"C{n:03d}", created_at=at, **(base | kw))  # type: ignore[arg-type]


def test_same_caller_same_matter_within_window() -> None:
    cases = [
        case(1, T0, caller_phone="13900000001"),
        case(2, T0 + 10 * D, caller_phone="13900000001"),
        case(3, T0 + 25 * D, caller_phone="13900000001"),  # chained: 15 days after the previous one
        case(4, T0 + 80 * D, caller_phone="13900000001"),  # too late: a new run of one
        case(5, T0 + 2 * D, caller_phone="13900000001", matter_code="1101001"),  # other matter
        case(6, T0 + 3 * D, caller_phone="13900000002"),
    ]
    groups = repeat_callers(cases, window_days=30)
    assert len(groups) == 1
    g = groups[0]
    assert g.kind == "caller" and g.numbers == ("C001", "C002", "C003") and g.count == 3
    assert repeat_callers(cases, window_days=5) == []


def test_same_place_reported_again_after_closure() -> None:
    addr = "东华门大街 1号"
    cases = [
        case(1, T0, address=addr, closed_at=T0 + 2 * D),
        case(2, T0 + D, address="东华门大街1号"),  # before the closure: a duplicate, not a return
        case(3, T0 + 9 * D, address=addr, closed_at=T0 + 10 * D),  # came back after closure
        case(4, T0 + 20 * D, address=addr),  # and again
        case(5, T0 + 21 * D, address="别处"),
        case(6, T0 + 22 * D, community_code="110101001001"),  # community only
        case(7, T0 + 23 * D, community_code="110101001001"),  # never closed: no return
    ]
    groups = recurring_places(cases)
    assert len(groups) == 1
    g = groups[0]
    assert g.kind == "place" and g.returns == 2 and g.count == 4
    assert place_of(cases[0]) == place_of(cases[1])  # spaces normalised
    assert place_of(case(8, T0)) is None  # a street alone is not a place


def test_near_duplicate_texts_across_callers() -> None:
    a = "朝阳门南小街12号楼下的饭馆油烟很大，熏得开不了窗"
    cases = [
        case(1, T0, caller_phone="1", description=a),
        case(
            2,
            T0 + timedelta(hours=5),
            caller_phone="2",
            description="朝阳门南小街12号楼下饭馆油烟很大，熏得开不了窗户",
        ),
        case(
            3,
            T0 + timedelta(hours=7),
            caller_phone="3",
            description="朝阳门南小街12号楼下的饭馆油烟很大熏得开不了窗",
        ),
        case(4, T0 + timedelta(hours=8), caller_phone="4", description="小区门口的地锁把消防通道占了"),
        case(5, T0 + 10 * D, caller_phone="5", description=a),  # same text, outside the 72 h window
        case(
            6, T0 + timedelta(hours=1), caller_phone="1", description=a, street_code="110101002"
        ),  # other street
    ]
    assert similarity(bigrams(a), bigrams(a)) == 1.0
    groups = text_clusters(cases)
    assert [g.numbers for g in groups] == [("C001", "C002", "C003")]
    same_caller = [
        case(1, T0, caller_phone="1", description=a),
        case(2, T0 + D, caller_phone="1", description=a),
    ]
    assert text_clusters(same_caller) == []  # one person twice is 屡诉, not several people


def test_screen_pop_hint_for_a_new_case() -> None:
    history = [
        case(1, T0, caller_phone="139", address="东华门大街1号", closed_at=T0 + D),
        case(2, T0 + 5 * D, caller_phone="138", address="东华门大街1号"),
        case(3, T0 + 6 * D, caller_phone="139", matter_code="1101001"),
    ]
    new = case(9, T0 + 10 * D, caller_phone="139", address="东华门大街1号")
    hint = for_case(new, history, window_days=30)
    assert hint == {"caller": ["C001"], "place": ["C001"]}
