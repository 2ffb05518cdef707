"""The catalogue data files: shape, integrity, provenance, and that the build script reproduces them."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.catalogue import (
    DATA_FILES,
    DEFAULT_DATA_DIR,
    Catalogue,
    CatalogueError,
    data_hash,
    load_catalogue,
    read_catalogue,
)
from callcenter.catalogue import build as build_catalogue
from tests.kernel.conftest import CATALOGUE as FIXTURE

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


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


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
    counts = build_catalogue.main(tmp_path)
    assert counts == {"categories": 29, "matters": 769, "units": 1583, "rules": 12734, "areas": 1485}
    for name in DATA_FILES:
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATA_DIR / name).read_bytes(), name


def test_builder_tables_are_data_files_that_say_what_they_are() -> None:
    """The hand-written tables live in sources/, each with a comment header (what it is, where from)."""
    files = sorted(p.name for p in build_catalogue.SOURCES_DIR.iterdir())
    assert files == [
        "areas.toml",
        "bureaus.csv",
        "categories.csv",
        "hand_keywords.csv",
        "hand_matters.csv",
        "name_rules.csv",
        "overrides.csv",
        "phrasing.toml",
        "taxonomy.toml",
        "utilities.csv",
    ]
    for name in files:
        head = (build_catalogue.SOURCES_DIR / name).read_text(encoding="utf-8").splitlines()[:2]
        assert all(line.startswith("# ") for line in head), name
    tables = build_catalogue.load_tables()
    assert [code for code, _ in tables.categories] == [f"{i:02d}" for i in range(1, 30)]
    assert set(tables.category_defaults) == {code for code, _ in tables.categories}
    assert len(tables.hand_matters) == 42 and len(tables.overrides) == 10
    for fragment, rule, industry in tables.name_rules:
        assert fragment and rule in {"industry", "locality"}, fragment
        assert industry in tables.bureaus or any(industry in u for u in tables.utilities.values()), industry


# --- the one parser: checks and defaults (shared by the seed and the classifier) -------------------


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A copy of the small test catalogue to break."""
    data = tmp_path / "catalogue"
    shutil.copytree(FIXTURE, data)
    return data


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def test_small_catalogue_reads_with_defaults(small: Path) -> None:
    _append(small / "matters.csv", " 0601003 ,06,缺省行,,,,,,,,")  # optional columns left empty, cells padded
    cat = read_catalogue(small)
    m = cat.matters["0601003"]
    assert (m.owner_rule, m.accept_hours, m.handle_days) == ("locality", 2.0, 7.0)
    assert m.keywords == () and m.industry == "" and m.source == ""
    assert cat.matters["1101001"].keywords == ("停水", "没水")
    assert cat.rules[("1101001", "110101")]["industry"].unit_code == "B110101-SW"
    assert cat.children("110101") == ["110101001", "110101002"]
    assert cat.areas["110101"].handled_by == ""  # the fixture has no handled_by column
    assert read_catalogue(small) is not cat  # read_catalogue never caches
    assert load_catalogue(small) is load_catalogue(str(small))  # load_catalogue caches per folder


@pytest.mark.parametrize(
    ("file", "line", "message"),
    [
        ("matters.csv", "0601009,99,坏行,,,,locality,,2,5,test", "matters.csv:5: unknown category '99'"),
        ("matters.csv", "0601009,06,坏行,,,,both,,2,5,test", "matters.csv:5: owner_rule must be"),
        ("matters.csv", "0601009,06,坏行,,,,locality,,two,5,test", "matters.csv:5: column 'accept_hours'"),
        ("matters.csv", "0601001,06,重复,,,,locality,,2,5,test", "matters.csv:5: duplicate code '0601001'"),
        ("units.csv", "S110101009,,street_office,,,,", "units.csv:8: column 'name' is empty"),
        ("gazetteer/areas.csv", "110101001,重复街道,street,110101", "areas.csv:8: duplicate code"),
        ("responsibility_rules.csv", "0601001,110101001,S110101002,locality,", "duplicate rule"),
        (
            "responsibility_rules.csv",
            "0601001,110101,NOPE,override,",
            "responsibility_rules.csv:6: unknown unit",
        ),
    ],
)
def test_malformed_rows_name_file_and_line(small: Path, file: str, line: str, message: str) -> None:
    _append(small / file, line)
    with pytest.raises(CatalogueError, match=re.escape(message)):
        read_catalogue(small)


def test_missing_files(small: Path) -> None:
    (small / "responsibility_rules.csv").unlink()  # optional: no rules, and the hash covers the rest
    cat = read_catalogue(small)
    assert cat.rules == {} and cat.data_hash == data_hash(small) != data_hash(FIXTURE)
    (small / "units.csv").unlink()
    with pytest.raises(CatalogueError, match=r"missing data file .*units\.csv"):
        read_catalogue(small)


def test_data_hash_is_over_the_file_bytes(catalogue: Catalogue) -> None:
    digest = hashlib.sha256()
    for name in DATA_FILES:
        digest.update(name.encode())
        digest.update((DEFAULT_DATA_DIR / name).read_bytes())
    assert catalogue.data_hash == digest.hexdigest() == data_hash()


def test_the_catalogue_imports_no_plugin() -> None:
    """Kernel data: loading (and building) the catalogue pulls in no capability."""
    code = (
        "import sys, callcenter.catalogue, callcenter.catalogue.build, callcenter.seed\n"
        "callcenter.catalogue.load_catalogue()\n"
        "print(sorted(m for m in sys.modules if m.startswith('callcenter.plugins')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
