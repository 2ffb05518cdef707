"""Place extraction on hand-written texts for each of the four seed districts."""

from __future__ import annotations

import pytest

from callcenter.catalogue import Catalogue
from callcenter.plugins.classifier.places import PlaceHint, chinese_number, extract_places

CASES = [
    # text, district, street, community, road, compound, building
    (
        "我家在东城区东华门街道多福巷社区，楼下饭馆油烟太大",
        "110101",
        "110101001",
        "110101001001",
        None,
        None,
        None,
    ),
    ("东直门外大街上有个大坑", "110101", "110101009", None, "东直门外大街", None, None),
    ("在天坛公园门口有人发小广告", "110101", "110101016", None, None, None, None),
    ("大兴区亦庄镇贵园北里小区3号楼电梯坏了", "110115", "110115004", "110115004001", None, "贵园北里", "3"),
    ("我们小区消防通道被堵了，在大兴区黄村镇兴华大街", "110115", "110115005", None, "兴华大街", None, None),
    ("大兴区天宫院街道那边路灯不亮", "110115", "110115010", None, None, None, None),
    (
        "怀柔雁栖地区京加路与范崎路交叉口红绿灯不亮",
        "110116",
        "110116004",
        None,
        "京加路与范崎路交叉口",
        None,
        None,
    ),
    ("怀柔区泉河街道有人烧垃圾", "110116", "110116001", None, None, None, None),
    ("怀柔区庙城镇那边停电了", "110116", "110116005", None, None, None, None),
    ("郫都区犀浦街道地铁口好多小商贩", "510117", "510117006", None, None, None, None),
    ("郫县红光街道望丛路上井盖丢了", "510117", "510117005", None, "望丛路", None, None),
    ("成都郫都区唐昌镇的自来水发黄", "510117", "510117104", None, None, None, None),
]


@pytest.mark.parametrize(("text", "district", "street", "community", "road", "compound", "building"), CASES)
def test_places_per_district(
    catalogue: Catalogue,
    text: str,
    district: str,
    street: str | None,
    community: str | None,
    road: str | None,
    compound: str | None,
    building: str | None,
) -> None:
    place = extract_places(text, catalogue)
    assert place.district_code == district
    assert place.street_code == street
    assert place.community_code == community
    if road:
        assert place.road == road
    if compound:
        assert place.compound == compound
    assert place.building == building
    assert place.source == "text"
    assert 0.5 <= place.confidence <= 1.0
    assert place.address.startswith(catalogue.areas[district].name)


def test_chinese_building_number(catalogue: Catalogue) -> None:
    place = extract_places("和平里七区十二号楼的暖气不热", catalogue)
    assert place.building == "12"
    assert place.street_code == "110101010"


def test_chinese_numbers() -> None:
    assert [chinese_number(s) for s in ("3", "十", "十二", "二十三", "一百零五", "两")] == [
        3,
        10,
        12,
        23,
        105,
        2,
    ]
    assert chinese_number("几") is None


def test_no_place_and_common_words_are_not_places(catalogue: Catalogue) -> None:
    for text in ("团结一致向前看，大家要合作友爱", "公司拖欠工资三个月", "", "hello"):
        place = extract_places(text, catalogue)
        assert place.district_code is None, text
        assert place.confidence == 0.0


def test_hint_from_caller_history(catalogue: Catalogue) -> None:
    hint = PlaceHint("110116", "110116001", None)
    place = extract_places("楼下有人烧垃圾", catalogue, hint=hint)
    assert (place.district_code, place.street_code, place.source) == ("110116", "110116001", "history")
    assert place.confidence < 0.5
    # the text wins over the history
    place = extract_places("东城区景山街道有人烧垃圾", catalogue, hint={"district_code": "110116"})
    assert (place.district_code, place.street_code, place.source) == ("110101", "110101002", "text")


def test_hint_mapping_with_short_keys(catalogue: Catalogue) -> None:
    """The pipeline passes {"district", "street", "community", "address"}."""
    hint = {"district": "110101", "street": "110101002", "community": None, "address": "景山东街"}
    place = extract_places("楼下有人烧垃圾", catalogue, hint=hint)
    assert (place.district_code, place.street_code, place.source) == ("110101", "110101002", "history")


def test_hint_breaks_ties_between_same_named_communities(catalogue: Catalogue) -> None:
    names: dict[str, list[str]] = {}
    for area in catalogue.areas.values():
        if area.level == "community":
            names.setdefault(area.name, []).append(area.code)
    dup_name, codes = next(
        (n, c) for n, c in sorted(names.items()) if len(c) > 1 and len({x[:6] for x in c}) > 1
    )
    plain = extract_places(f"{dup_name}门口有人摆摊", catalogue)
    assert plain.community_code in codes
    assert plain.confidence < 0.9  # ambiguous without a district
    target = codes[-1]
    hinted = extract_places(f"{dup_name}门口有人摆摊", catalogue, hint=PlaceHint(target[:6], target[:9]))
    assert hinted.community_code == target


def test_gazetteer_is_built_once_per_catalogue(catalogue: Catalogue) -> None:
    """The classifier derives (and caches) its gazetteer from a catalogue, which knows no gazetteer."""
    from callcenter.catalogue import read_catalogue
    from callcenter.plugins.classifier.places import Gazetteer, gazetteer_of

    gz = gazetteer_of(catalogue)
    assert gz is gazetteer_of(catalogue) is Gazetteer.from_catalogue(catalogue)
    assert not hasattr(catalogue, "gazetteer")
    fresh = read_catalogue(catalogue.data_dir)  # another (uncached) catalogue object: its own index
    assert fresh is not catalogue and gazetteer_of(fresh) is not gz
    assert gazetteer_of(fresh).aliases.keys() == gz.aliases.keys()
