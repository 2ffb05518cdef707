"""The catalogue data files: shape, integrity, provenance, and that the build script reproduces them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from callcenter.plugins.classifier import build_catalogue
from callcenter.plugins.classifier.catalogue import DATA_FILES, DEFAULT_DATA_DIR, Catalogue

SOURCE_DOCUMENT_TERMS = [
    "油烟扰民",
    "私装地锁",
    "电梯故障",
    "街头游商",
    "无照游商",
    "非法小广告",
    "店外经营",
    "背街小巷",
    "物业管理",
    "垃圾分类",
    "道路扬尘",
    "餐饮油烟",
    "供暖",
    "停水",
    "停电",
    "噪声扰民",
    "违章建筑",
    "占道经营",
    "拖欠工资",
    "社保",
    "入学",
    "医院",
    "公交",
    "消费维权",
]


def test_counts_and_codes(catalogue: Catalogue) -> None:
    assert len(catalogue.categories) == 29
    assert sorted(catalogue.categories) == [f"{i:02d}" for i in range(1, 30)]
    assert len(catalogue.matters) == 769
    assert {m.category_code for m in catalogue.matters.values()} == set(catalogue.categories)
    for m in catalogue.matters.values():
        assert m.code[:2] == m.category_code and len(m.code) == 7, m.code
        assert m.owner_rule in {"industry", "locality"}
        assert m.keywords, m.code
        assert m.phrasings, m.code
        assert m.accept_hours > 0 and m.handle_days > 0
        assert m.source and len(m.source) <= 64  # matters.source is String(64)
        assert len(m.name) <= 128


def test_every_source_document_matter_is_findable(catalogue: Catalogue) -> None:
    for term in SOURCE_DOCUMENT_TERMS:
        hits = [m for m in catalogue.matters.values() if term in m.name or any(term in k for k in m.keywords)]
        assert hits, term


def test_gazetteer_subset(catalogue: Catalogue) -> None:
    levels = {a.level for a in catalogue.areas.values()}
    assert levels == {"province", "city", "district", "street", "community"}
    districts = {c: a.name for c, a in catalogue.areas.items() if a.level == "district"}
    assert districts == {"110101": "东城区", "110115": "大兴区", "110116": "怀柔区", "510117": "郫都区"}
    streets = [a for a in catalogue.areas.values() if a.level == "street"]
    assert len([s for s in streets if s.parent_code == "110101"]) == 17
    assert catalogue.areas["110115403"].handled_by == "110115004"  # 经开区 → 亦庄地区
    for a in catalogue.areas.values():
        if a.level in {"street", "community"}:
            assert a.parent_code in catalogue.areas, a.code


def test_units_and_rules_are_consistent(catalogue: Catalogue) -> None:
    kinds = {u.kind for u in catalogue.units.values()}
    assert kinds == {"center", "district_bureau", "street_office", "community", "utility"}
    for street in (a for a in catalogue.areas.values() if a.level == "street"):
        office = f"S{street.handled_by or street.code}"
        assert office in catalogue.units, street.code
    assert catalogue.rule_count > 8000
    for (matter_code, area_code), by_kind in catalogue.rules.items():
        assert matter_code in catalogue.matters
        assert area_code in catalogue.areas
        for kind, rule in by_kind.items():
            assert kind in {"industry", "locality", "override"}
            assert rule.unit_code in catalogue.units
    # every matter has a district rule in every seed district
    for code in catalogue.matters:
        for district in ("110101", "110115", "110116", "510117"):
            assert (code, district) in catalogue.rules


def test_files_small_and_with_contract_headers() -> None:
    headers = {
        "categories.csv": ["code", "name"],
        "matters.csv": ["code", "category_code", "name", "description", "keywords", "phrasings", "owner_rule",
                        "industry", "accept_hours", "handle_days", "source"],
        "units.csv": ["code", "name", "kind", "parent_code", "area_code", "industry", "phone"],
        "responsibility_rules.csv": ["matter_code", "area_code", "unit_code", "rule_kind", "note"],
        "gazetteer/areas.csv": ["code", "name", "level", "parent_code"],
    }  # fmt: skip
    for name in DATA_FILES:
        path = DEFAULT_DATA_DIR / name
        assert path.stat().st_size < 2_000_000, name
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        assert header[: len(headers[name])] == headers[name], name
    assert (DEFAULT_DATA_DIR / "PROVENANCE.md").exists()
    assert (DEFAULT_DATA_DIR / "gazetteer" / "LICENSE.txt").exists()


@pytest.mark.skipif(not build_catalogue.SHARED_DIR.exists(), reason="../shared reference data not present")
def test_build_script_reproduces_committed_files(tmp_path: Path) -> None:
    build_catalogue.main(tmp_path)
    for name in DATA_FILES:
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATA_DIR / name).read_bytes(), name
