"""The suggester's fast paths (issue 16, long-text throughput) against plain reference implementations.

Each fast path claims to give exactly what a simpler implementation gives: the place-name scan, the
windowed place patterns, the agency scan, the request-type cues, NFKC, the alphanumeric test and the
n-gram hash table. The references here are the simple versions (those of earlier commits, or the library
call itself); the texts are the team-written citizen corpus (1,870 long messages), the place test texts
and constructed edge cases.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata

import numpy as np
import pytest

from callcenter.catalogue import Catalogue
from callcenter.plugins.classifier import longtext, places
from callcenter.plugins.classifier.corpus import DATA_DIR
from callcenter.plugins.classifier.model import _GramTable
from callcenter.plugins.classifier.names import NameIndex
from callcenter.plugins.classifier.places import Gazetteer, extract_places, gazetteer_of
from callcenter.plugins.classifier.suggester import BATCH_CHARS, Suggester, _batches
from callcenter.plugins.classifier.text import _ALNUM, check_text, nfkc

CORPUS = DATA_DIR / "citizen_corpus"
EDGE_TEXTS = [
    "",
    "口",
    "路",
    "小区",
    "东城区",
    "我家住在东城区东华门街道多福巷社区3号楼，楼下饭馆油烟太大",
    "京加路与范崎路交叉口红绿灯不亮，天坛公园门口也有人摆摊",
    "大兴区亦庄镇贵园北里小区3号楼电梯坏了，旁边地铁站出口堆满了共享单车",
    "怀柔雁栖地区京加路与范崎路的十字路口" + "很长的背景" * 30 + "兴华大街上有大坑",
    "家里老人想问怎么办理，是否可以考虑增设，感谢信送给街道",
    "怎么办理怎么办" + "。" * 50 + "感谢信",
]


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(f"{row['subject']}。{row['detail']}")
    assert len(texts) >= 1800
    return texts + EDGE_TEXTS


# --- place-name scan -------------------------------------------------------------------------------------


def _reference_scan(gz: Gazetteer, prefixes: set[str], text: str) -> list[tuple[int, int, str]]:
    """The prefix-set walk of the first version: longest alias at each start, then skip past it."""
    max_len = max(len(a) for a in gz.aliases)
    found = []
    i = 0
    while i < len(text):
        best = 0
        j = i + 1
        while j <= min(len(text), i + max_len) and text[i:j] in prefixes:
            if text[i:j] in gz.aliases:
                best = j
            j += 1
        if best:
            found.append((i, best, text[i:best]))
            i = best
        else:
            i += 1
    return found


def test_scan_equals_the_prefix_walk(catalogue: Catalogue, corpus_texts: list[str]) -> None:
    gz = gazetteer_of(catalogue)
    prefixes = {alias[:i] for alias in gz.aliases for i in range(1, len(alias) + 1)}
    # texts dense with names: aliases, their fragments and overlaps (东城区东华门 …) glued by filler
    rng = random.Random(7)
    aliases = sorted(gz.aliases)
    dense = []
    for _ in range(500):
        parts = []
        for _ in range(8):
            alias = rng.choice(aliases)
            parts.append(rng.choice([alias, alias[: rng.randint(1, len(alias))], alias + "的", "在"]))
        dense.append("".join(parts))
    hits = 0
    for text in corpus_texts + dense:
        found = gz.scan(text)
        assert found == _reference_scan(gz, prefixes, text), text
        hits += len(found)
    assert hits > 2000  # names were there to find: the comparison is not between empty lists


def test_one_character_names_are_no_aliases(catalogue: Catalogue) -> None:
    areas = dict(catalogue.areas)
    district = next(a for a in areas.values() if a.level == "district")
    from dataclasses import replace

    areas[district.code] = replace(district, name="城区")  # a real district name (大同市城区 …)
    gz = Gazetteer(areas)
    assert "城区" in gz.aliases and "城" not in gz.aliases
    assert gz.scan("城里城外") == []
    assert gz.scan("住在城区") == [(2, 4, "城区")]


def test_name_index_longest_first_without_overlaps() -> None:
    index = NameIndex(["交通", "交通运输局", "运输局", "局", "东城区", "东华门街道"])
    assert index.scan("找了交通运输局和东城区东华门街道") == [
        (2, 7, "交通运输局"),
        (8, 11, "东城区"),
        (11, 16, "东华门街道"),
    ]
    assert index.scan("交通不便") == [(0, 2, "交通")]
    assert index.scan("局") == []  # one character is no name
    assert NameIndex([]).scan("任何文字") == []


# --- place patterns, started at their anchors -------------------------------------------------------------


def test_windowed_patterns_find_what_full_scans_find(corpus_texts: list[str]) -> None:
    checked = 0
    for text in corpus_texts:
        for pattern in places._ANCHORS:
            windowed = [m.span() for m in places._finditer(pattern, text)]
            assert windowed == [m.span() for m in pattern.finditer(text)], (pattern.pattern, text)
            checked += len(windowed)
    assert checked > 1000


def test_windows_hold_for_matches_just_behind_the_anchor() -> None:
    # the longest match each pattern allows, ending at the anchor: the window's back distance must reach it
    cases = {
        places._ROAD: "测" * 10 + "大街",
        places._COMPOUND: "测" * 10 + "花园",
        places._LANDMARK: "测" * 10 + "菜市场",
        places._INTERSECTION: "测" * 12 + "大街与" + "试" * 10 + "大道的丁字路口",
    }
    for pattern, core in cases.items():
        text = "前面，" + core
        full = pattern.search(text)
        assert full is not None and full.start() == 3, pattern.pattern
        windowed = next(places._finditer(pattern, text))
        assert windowed.span() == full.span()


def _reference_patterns(text: str, gz: Gazetteer) -> places.PlaceResult:
    """``_patterns`` as first written: full scans, every compound trimmed before it is judged."""
    result = places.PlaceResult()
    cross = places._INTERSECTION.search(text)
    if cross:
        result.road = f"{places._trim_lead(cross.group(1), gz)}与{cross.group(2)}交叉口"
    else:
        for m in places._ROAD.finditer(text):
            road = places._trim_lead(m.group(1), gz)
            if len(road) < 3 or road in places._NOT_ROADS or "条" in road or road in gz.aliases:
                continue
            result.road = road
            break
    for m in places._COMPOUND.finditer(text):
        name = places._trim_lead(m.group(1), gz)
        if len(name) < 3 or name in {"这个小区", "我们小区", "那个小区", "我们社区", "这个社区", "农村"}:
            continue
        if name.endswith(("村", "里", "苑", "社区")) and name not in gz.aliases and not m.group(2):
            continue
        result.compound = name
        if m.group(2):
            result.building = str(places.chinese_number(m.group(2)))
        break
    if result.building is None:
        b = places._BUILDING.search(text)
        if b:
            result.building = str(places.chinese_number(b.group(1)))
    lm = places._LANDMARK.search(text)
    if lm:
        result.landmark = places._trim_lead(lm.group(1), gz)
    return result


def test_patterns_equal_the_full_scans(catalogue: Catalogue, corpus_texts: list[str]) -> None:
    gz = gazetteer_of(catalogue)
    compounds = 0
    for text in corpus_texts:
        fast = places.PlaceResult()
        places._patterns(text, gz, fast)
        assert fast == _reference_patterns(text, gz), text
        compounds += fast.compound is not None
    assert compounds > 100
    # a compound ending in 里 that is a known community is kept; 家里 is no compound
    assert extract_places("家里的水管坏了", gz).compound is None
    known = next(a for a in gz.aliases if a.endswith("里") and len(a) >= 3)
    r = places.PlaceResult()
    places._patterns(f"我们住在{known}，楼下很吵", gz, r)
    assert r.compound == known


# --- agencies and request-type cues -----------------------------------------------------------------------


def test_agency_scan_equals_the_longest_first_alternation(corpus_texts: list[str]) -> None:
    _, rows = longtext._agencies(longtext._DEFAULT_AGENCIES)
    alternation = re.compile("|".join(map(re.escape, sorted(rows, key=lambda w: (-len(w), w)))))
    found = 0
    for text in corpus_texts:
        expected = {m.group(): rows[m.group()] for m in alternation.finditer(text)}
        assert longtext.agency_categories(text) == expected, text
        found += len(expected)
    assert found > 200


def test_cue_finder_finds_every_cue_in_the_text(corpus_texts: list[str]) -> None:
    cues = {cue for _, cue, _ in longtext._CUE_LIST}
    for text in corpus_texts:
        assert longtext._cues_in(text) == {c for c in cues if c in text}, text
    # a cue that starts a longer one at the same place, and cues overlapping each other
    assert {"怎么办", "怎么办理"} <= longtext._cues_in("请问这个怎么办理")
    assert {"感谢", "感谢信", "非常感谢"} <= longtext._cues_in("非常感谢信")
    assert {"是否", "是否可以考虑"} <= longtext._cues_in("是否可以考虑")


def _reference_request_type(subject: str, detail: str) -> tuple[str, float]:
    weights = dict.fromkeys(longtext.REQUEST_TYPES, 0.0)
    weights[longtext.DEFAULT_TYPE] = longtext.DEFAULT_WEIGHT
    for kind, cues in longtext._CUES.items():
        for cue, w in cues:
            if subject and cue in subject:
                weights[kind] += longtext.SUBJECT_WEIGHT * w
            if detail and cue in detail:
                weights[kind] += w
    best = max(longtext.REQUEST_TYPES, key=lambda k: weights[k])
    return best, round(weights[best] / sum(weights.values()), 4)


def test_request_type_rule_is_unchanged(corpus_texts: list[str]) -> None:
    kinds = set()
    for text in corpus_texts:
        subject, _, detail = text.partition("。")
        got = longtext.request_type(subject, detail)
        assert got == _reference_request_type(subject, detail), text
        kinds.add(got[0])
    assert kinds == set(longtext.REQUEST_TYPES)


# --- text normalisation -----------------------------------------------------------------------------------


def test_nfkc_equals_unicodedata(corpus_texts: list[str]) -> None:
    rng = random.Random(16)
    samples = list(corpus_texts)
    # every BMP character alone and after a full-width letter (which composes with combining marks)
    samples += [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    samples += ["Ａ" + chr(c) for c in range(0x300, 0x370)] + ["Ａ\u0301", "ｅ\u0301小区", "\u3000\u0301"]
    pool = "Ａｚ０，。！？（）\u3000\u0301\u0308\u1100\u1161\u11a8가ﬁ①㈱ｶﾞ甲乙丙路灯井盖"
    samples += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 30))) for _ in range(5000)]
    for text in samples:
        assert nfkc(text) == unicodedata.normalize("NFKC", text), ascii(text)


def test_alnum_pattern_is_isalnum() -> None:
    for c in range(0x110000):
        ch = chr(c)
        assert (_ALNUM.match(ch) is not None) == ch.isalnum(), hex(c)
    assert check_text("ＡＢＣ，路灯坏了！") == "ABC,路灯坏了!"


# --- n-gram hash table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 60_000])
def test_gram_table_answers_like_a_dict(n: int) -> None:
    rng = np.random.default_rng(n)
    # keys as the model makes them (code points packed 21 bits each), many sharing their low bits
    keys = np.unique(rng.integers(1, 1 << 63, size=n, dtype=np.uint64) & np.uint64(~0xFFFF & (1 << 63) - 1))
    keys = keys[keys > 0]
    ids = rng.permutation(len(keys)).astype(np.int64)
    table = _GramTable(keys, ids)
    assert len(table.keys) >= 4 * len(keys)
    absent = rng.integers(1, 1 << 63, size=5000, dtype=np.uint64)
    queries = np.concatenate([keys, absent, keys[:100]])
    expected = dict(zip(keys.tolist(), ids.tolist(), strict=True))
    got = table.lookup(queries)
    assert got.tolist() == [expected.get(k, -1) for k in queries.tolist()]


# --- batches --------------------------------------------------------------------------------------------


def test_batches_beyond_one_vectorisation_equal_single_suggestions(
    suggester: Suggester, corpus_texts: list[str]
) -> None:
    texts = [*corpus_texts[:300], "", "hello", *corpus_texts[300:360]]
    subjects = [t.partition("。")[0] if k % 2 else None for k, t in enumerate(texts)]
    valid = [(k, t, s) for k, (t, s) in enumerate(zip(texts, subjects, strict=True)) if t.strip()]
    batches = list(_batches(valid))
    assert len(batches) >= 2 and [item for b in batches for item in b] == valid
    assert all(sum(len(t) + len(s or "") for _, t, s in b) <= BATCH_CHARS for b in batches)
    batch = suggester.suggest_many(texts, subjects=subjects)
    assert len(batch) == len(texts)
    first_end = len(batches[0]) - 1
    for k in (0, first_end, first_end + 1, first_end + 2, 300, 301, len(texts) - 1):
        single = suggester.suggest(texts[k], subject=subjects[k])
        assert batch[k].to_dict() == single.to_dict(), k


def test_batches_split_by_characters() -> None:
    items = [(k, "字" * n, None) for k, n in enumerate([10, 20, 30, 100, 5])]
    assert [[k for k, _, _ in b] for b in _batches(items, limit=60)] == [[0, 1, 2], [3], [4]]
    assert [[k for k, _, _ in b] for b in _batches([(0, "长" * 500, "主题")], limit=60)] == [[0]]
    assert [[k for k, _, _ in b] for b in _batches([(0, "字" * 30, "主" * 31), (1, "字", None)], 60)] == [
        [0],
        [1],
    ]
    assert list(_batches([])) == []
