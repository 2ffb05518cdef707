"""Owning unit from the responsibility list: industry vs locality, overrides, hand mapping, fallbacks."""

from __future__ import annotations

import pytest

from callcenter.catalogue import Catalogue, Rule, Unit, rules_map, with_rules
from callcenter.plugins.classifier.routing import AreaRef, resolve_unit


def code_of(catalogue: Catalogue, name: str) -> str:
    return next(m.code for m in catalogue.matters.values() if m.name == name)


def test_locality_matter_goes_to_the_street_office(catalogue: Catalogue) -> None:
    choice = resolve_unit(catalogue, code_of(catalogue, "噪声扰民"), AreaRef("110101", "110101001"))
    assert (choice.unit_code, choice.rule_kind) == ("S110101001", "locality")
    assert choice.unit_name == "东华门街道办事处"


def test_locality_from_community_alone(catalogue: Catalogue) -> None:
    choice = resolve_unit(catalogue, code_of(catalogue, "乱堆杂物"), {"community_code": "110115004001"})
    assert choice.unit_code == "S110115004"


def test_locality_without_street_goes_to_the_district_center(catalogue: Catalogue) -> None:
    choice = resolve_unit(catalogue, code_of(catalogue, "噪声扰民"), AreaRef("110116"))
    assert choice.unit_code == "110116-12345"


def test_industry_matter_goes_to_bureau_or_utility(catalogue: Catalogue) -> None:
    wages = resolve_unit(catalogue, code_of(catalogue, "拖欠工资"), AreaRef("110115", "110115005"))
    assert (wages.unit_code, wages.rule_kind) == ("110115-RSJ", "industry")
    assert wages.unit_name == "大兴区人力资源和社会保障局"
    power = resolve_unit(catalogue, code_of(catalogue, "停电"), AreaRef("510117"))
    assert power.unit_code == "U5101-POWER"
    heat_bj = resolve_unit(catalogue, code_of(catalogue, "供暖不热"), AreaRef("110101"))
    assert heat_bj.unit_code == "U1101-HEAT"


def test_no_heating_utility_in_chengdu_falls_back_to_center(catalogue: Catalogue) -> None:
    choice = resolve_unit(catalogue, code_of(catalogue, "供暖不热"), AreaRef("510117", "510117006"))
    assert choice.unit_code == "510117-12345"


def test_street_override_beats_both_rules(catalogue: Catalogue) -> None:
    matter = code_of(catalogue, "占道经营")
    assert resolve_unit(catalogue, matter, AreaRef("110101", "110101011")).unit_code == "110101-CGZF"
    assert resolve_unit(catalogue, matter, AreaRef("110101", "110101011")).rule_kind == "override"
    assert resolve_unit(catalogue, matter, AreaRef("110101", "110101001")).unit_code == "S110101001"


def test_statistical_unit_maps_to_handling_street(catalogue: Catalogue) -> None:
    choice = resolve_unit(catalogue, code_of(catalogue, "乱堆杂物"), AreaRef("110115", "110115403"))
    assert choice.unit_code == "S110115004"
    assert "110115004" in choice.reason
    # override on the handling street applies to the mapped statistical unit too
    prop = resolve_unit(catalogue, code_of(catalogue, "物业管理服务问题"), AreaRef(None, "110115403"))
    assert prop.unit_code == "110115-ZJW"


def test_unknown_or_missing_area(catalogue: Catalogue) -> None:
    matter = code_of(catalogue, "拖欠工资")
    assert resolve_unit(catalogue, matter, None).rule_kind == "unresolved"
    assert resolve_unit(catalogue, matter, AreaRef("999999", "999999001")).unit_code is None
    # a street of another district than the one given is ignored
    choice = resolve_unit(catalogue, code_of(catalogue, "噪声扰民"), AreaRef("110115", "110101001"))
    assert choice.unit_code == "110115-12345"


def test_unknown_matter_raises(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError):
        resolve_unit(catalogue, "0000000", AreaRef("110101"))


# --------------------------------------------------------------------------- another responsibility list
# (the database's, as edited in the admin screen: callcenter.catalogue.with_rules, still no I/O)


def _all_rules(catalogue: Catalogue) -> list[Rule]:
    return [rule for by_kind in catalogue.rules.values() for rule in by_kind.values()]


def test_routing_follows_the_rules_it_is_given(catalogue: Catalogue) -> None:
    matter = code_of(catalogue, "占道经营")
    where = AreaRef("110115", "110115003")
    assert resolve_unit(catalogue, matter, where).unit_code == "S110115003"
    edited = [
        Rule(matter, "110115003", "110115-CGZF", "locality", "改由城管执法局承办")
        if (r.matter_code, r.area_code, r.rule_kind) == (matter, "110115003", "locality")
        else r
        for r in _all_rules(catalogue)
    ]
    routed = with_rules(catalogue, edited)
    choice = resolve_unit(routed, matter, where)
    assert (choice.unit_code, choice.unit_name, choice.rule_kind) == (
        "110115-CGZF",
        "大兴区城市管理综合行政执法局",
        "locality",
    )
    assert choice.reason == "改由城管执法局承办"
    # the other tables are shared, not copied; the files' catalogue is unchanged
    assert routed.matters is catalogue.matters and routed.areas is catalogue.areas
    assert resolve_unit(catalogue, matter, where).unit_code == "S110115003"


def test_a_removed_rule_falls_back_as_before(catalogue: Catalogue) -> None:
    matter = code_of(catalogue, "占道经营")
    key = (matter, "110115003", "locality")
    without = [r for r in _all_rules(catalogue) if (r.matter_code, r.area_code, r.rule_kind) != key]
    choice = resolve_unit(with_rules(catalogue, without), matter, AreaRef("110115", "110115003"))
    # the district's locality rule (street unknown to the list) → the district center
    assert (choice.unit_code, choice.rule_kind, choice.area_code) == ("110115-12345", "locality", "110115")
    # no rule at all: the district center as fallback; unknown district: unresolved
    empty = with_rules(catalogue, [])
    assert empty.rule_count == 0
    assert resolve_unit(empty, matter, AreaRef("110115", "110115003")).rule_kind == "fallback"
    assert resolve_unit(empty, matter, AreaRef("110115", "110115003")).unit_code == "110115-12345"
    assert resolve_unit(empty, matter, None).rule_kind == "unresolved"


def test_an_added_override_and_a_unit_of_the_database(catalogue: Catalogue) -> None:
    matter = code_of(catalogue, "噪声扰民")
    unit = Unit("S110101099", "测试街道工作站", "street_office", "110101-12345", "110101", "", "")
    rules = [*_all_rules(catalogue), Rule(matter, "110101001", unit.code, "override", "")]
    routed = with_rules(catalogue, rules, [unit])
    choice = resolve_unit(routed, matter, AreaRef("110101", "110101001"))
    assert (choice.unit_code, choice.unit_name, choice.rule_kind) == (unit.code, unit.name, "override")
    assert choice.reason == "特殊规定（按街道覆盖）"
    assert unit.code not in catalogue.units  # added to the copy only


def test_rules_map_indexes_by_matter_area_and_kind() -> None:
    a = Rule("0100001", "110101", "U1", "industry", "")
    b = Rule("0100001", "110101", "U2", "locality", "")
    c = Rule("0100001", "110101", "U3", "industry", "later")
    assert rules_map([a, b, c]) == {("0100001", "110101"): {"industry": c, "locality": b}}
