"""Place extraction (地点抽取): district / street / community / road / 小区 / landmark from caller text.

Pure logic over the gazetteer (NBS 2023 codes of the four seed districts). Names are matched with a
prefix-set scan (full names, names without 街道/镇/社区居委会 suffixes, safe short forms), then the
most consistent district → street → community chain is chosen; roads, road intersections
("XX路与XX路交叉口"), residential compounds ("XX小区X号楼") and landmarks come from patterns.
An optional hint (the caller's earlier cases) fills in when the text names no place.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from callcenter.catalogue import Area, Catalogue, codes_of
from callcenter.plugins.classifier.names import NameIndex

#: Two-character short forms that are safe on their own (unambiguous place names, not common words).
SAFE_SHORT = {
    "东城",
    "大兴",
    "怀柔",
    "郫都",
    "郫县",
    "景山",
    "东四",
    "前门",
    "天坛",
    "龙潭",
    "黄村",
    "旧宫",
    "亦庄",
    "瀛海",
    "采育",
    "榆垡",
    "礼贤",
    "北房",
    "杨宋",
    "桥梓",
    "怀北",
    "雁栖",
    "庙城",
    "郫筒",
    "犀浦",
    "安靖",
    "唐昌",
    "东花市",
    "魏善庄",
    "庞各庄",
    "长子营",
    "青云店",
    "北臧村",
    "汤河口",
    "琉璃庙",
    "九渡河",
    "三道堰",
    "西红门",
    "天宫院",
    "高米店",
    "观音寺",
    "林校路",
    "东直门",
    "朝阳门",
    "建国门",
    "安定门",
    "北新桥",
    "东华门",
    "交道口",
    "和平里",
    "体育馆路",
    "永定门外",
    "崇文门外",
}
STREET_SUFFIXES = ("满族乡", "街道", "地区", "镇", "乡")
COMMUNITY_SUFFIXES = (
    "社区居民委员会",
    "村民委员会",
    "社区居委会",
    "居民委员会",
    "社区社区",
    "居委会",
    "村委会",
)
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUM = r"(?:\d+|[零〇一二两三四五六七八九十百]+)"
_HAN = r"[\u4e00-\u9fff]"
_ROAD_END = r"(?:大街|胡同|大道|公路|路|街|巷)"
_NOT_ROADS = {
    "这条路",
    "那条路",
    "这条街",
    "那条街",
    "马路",
    "大马路",
    "小马路",
    "过马路",
    "沿街",
    "临街",
    "上街",
}
_LEAD = re.compile(
    r"^(?:.*?(?:我家在|我家住在|我家住|我住在|住在|就在|位于|那边|这边|附近|旁边|门口|对面|我们|咱们|是在|是|在|到|从|往|的|了|呢|啊|呀|说|个))+"
)
_INTERSECTION = re.compile(
    rf"({_HAN}{{2,12}}?{_ROAD_END})(?:与|和|跟|、|同)({_HAN}{{1,10}}?{_ROAD_END})(?:的)?(?:交叉口|交口|十字路口|路口|丁字路口)"
)
_ROAD = re.compile(
    rf"({_HAN}{{1,10}}?{_ROAD_END})(?:\d+号|{_NUM}号院|上|边|口|附近|旁|南侧|北侧|东侧|西侧|$|[^\u4e00-\u9fff])"
)
_COMPOUND = re.compile(
    rf"({_HAN}{{2,10}}?(?:小区|家园|花园|公寓|嘉园|新村|社区|村|里|苑))"
    rf"(?:({_NUM})(?:号楼|栋|幢|号院))?(?:({_NUM})单元)?"
)
_BUILDING = re.compile(rf"({_NUM})(?:号楼|栋|幢)")
_LANDMARK_WORDS = (
    *("公园", "医院", "小学", "中学", "大学", "学校", "幼儿园", "地铁站", "火车站", "公交站"),
    *("商场", "超市", "广场", "菜市场", "市场", "大厦", "体育馆", "图书馆", "派出所"),
)
_LANDMARK = re.compile(rf"({_HAN}{{2,10}}?(?:{'|'.join(_LANDMARK_WORDS)}))")
#: The patterns above are lazy scans tried from every position. Each match contains its anchor (the last
#: character of a road / compound ending, the 口 of an intersection, a landmark word) starting at most
#: ``back`` characters after the match's start, so a scan can start ``back`` characters before the
#: anchor's first occurrence and find the same matches — and is skipped when there is none
#: (``_scan_from``; tests/plugins/classifier/test_fast_paths.py checks the windows against full scans).
_ANCHORS: dict[re.Pattern[str], tuple[re.Pattern[str], int]] = {
    _INTERSECTION: (re.compile("口"), 12 + 2 + 1 + 10 + 2 + 1 + 3),
    _ROAD: (re.compile("[路街巷同道]"), 10 + 1),
    _COMPOUND: (re.compile("[区园寓村里苑]"), 10 + 1),
    # the landmark's anchor is its word itself (a character class of 市, 学 … would stop too often)
    _LANDMARK: (re.compile("|".join(_LANDMARK_WORDS)), 10),
}


def _scan_from(pattern: re.Pattern[str], text: str) -> int | None:
    """Where ``pattern``'s scan of ``text`` may start without missing a match (None: no match possible)."""
    anchor, back = _ANCHORS[pattern]
    first = anchor.search(text)
    return None if first is None else max(0, first.start() - back)


def _finditer(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, started where a match can first be (``_scan_from``)."""
    start = _scan_from(pattern, text)
    return iter(()) if start is None else pattern.finditer(text, start)


def chinese_number(text: str) -> int | None:
    """Arabic or simple Chinese numerals (一..九十九, 百) → int."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


@dataclass(frozen=True, slots=True)
class PlaceHint:
    """Where the caller's earlier cases were (来电历史): used only when the text names no place."""

    district_code: str | None = None
    street_code: str | None = None
    community_code: str | None = None


@dataclass(slots=True)
class PlaceResult:
    """Normalised place of a text, with confidence in [0, 1] and where it came from."""

    district_code: str | None = None
    district_name: str | None = None
    street_code: str | None = None
    street_name: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    road: str | None = None
    compound: str | None = None
    building: str | None = None
    landmark: str | None = None
    confidence: float = 0.0
    source: str = "none"  # text | history | none
    matched: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """Normalised address line (规范地址)."""
        parts = [self.district_name, self.street_name, self.community_name, self.road, self.compound]
        text = "".join(p for p in parts if p)
        if self.building:
            text += f"{self.building}号楼"
        if self.landmark and self.landmark not in text:
            text += f"（{self.landmark}）"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["address"] = self.address
        return data


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str
    level: str
    exact: bool  # full official name matched


class Gazetteer:
    """Alias index over the areas of a catalogue (行政区划地名索引)."""

    def __init__(self, areas: Mapping[str, Area]) -> None:
        self.areas = dict(areas)
        self.aliases: dict[str, list[_Entry]] = {}
        for area in self.areas.values():
            if area.level not in {"district", "street", "community"}:
                continue
            for alias, exact in self._aliases(area):
                if len(alias) < 2:  # 城区 → 城: one character is no place name
                    continue
                entries = self.aliases.setdefault(alias, [])
                if all(e.code != area.code for e in entries):
                    entries.append(_Entry(area.code, area.level, exact))
        self._index = NameIndex(self.aliases)

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> Gazetteer:
        """The gazetteer of ``catalogue``, built once per catalogue (see :func:`gazetteer_of`)."""
        return gazetteer_of(catalogue)

    @staticmethod
    def short_name(area: Area) -> str:
        name = area.name
        suffixes = STREET_SUFFIXES if area.level == "street" else COMMUNITY_SUFFIXES
        for suffix in suffixes:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                return name[: -len(suffix)]
        return name

    def _aliases(self, area: Area) -> list[tuple[str, bool]]:
        out = [(area.name, True)]
        if area.level == "district":
            out.append((area.name[:-1], False))
            if area.code == "510117":
                out.append(("郫县", False))
            return out
        base = self.short_name(area)
        if area.level == "street":
            if area.name.endswith("地区"):
                out += [(base + "街道", True), (base + "镇", True)]
            if base != area.name and (len(base) >= 3 or base in SAFE_SHORT):
                out.append((base, False))
            return list(dict.fromkeys(out))
        # community: 多福巷社区居委会 -> 多福巷社区, 多福巷; XX村委会 -> XX村
        name = area.name
        if name.endswith(("村委会", "村民委员会")):
            out.append((base if base.endswith("村") else base + "村", True))
            if len(base) >= 3:
                out.append((base, False))
        else:
            out.append((base + "社区", True))
            out.append((base + "小区", True))
            if len(base) >= 3:
                out.append((base, False))
        return out

    def scan(self, text: str) -> list[tuple[int, int, str]]:
        """All alias occurrences (start, end, alias), longest first at each start, non-overlapping greedy."""
        return self._index.scan(text)


def _hint_codes(hint: Any) -> PlaceHint | None:
    if hint is None or isinstance(hint, PlaceHint):
        return hint
    return PlaceHint(*codes_of(hint))


def _trim_lead(piece: str, gazetteer: Gazetteer) -> str:
    """Drop leading filler words and leading district / street names from a matched road or landmark."""
    for _ in range(4):
        piece = _LEAD.sub("", piece)
        hits = gazetteer.scan(piece)
        if not hits or hits[0][0] != 0 or hits[0][1] > len(piece) - 2:
            break
        entries = gazetteer.aliases[hits[0][2]]
        if not any(e.exact or e.level == "district" for e in entries):
            break
        piece = piece[hits[0][1] :]
    return piece


def _fill(result: PlaceResult, areas: Mapping[str, Area], code: str | None) -> None:
    while code:
        area = areas.get(code)
        if area is None:
            return
        if area.level == "community" and result.community_code is None:
            result.community_code, result.community_name = area.code, area.name
        elif area.level == "street" and result.street_code is None:
            result.street_code, result.street_name = area.code, area.name
        elif area.level == "district" and result.district_code is None:
            result.district_code, result.district_name = area.code, area.name
        code = area.parent_code if area.level in {"community", "street"} else None


_GAZETTEERS: weakref.WeakKeyDictionary[Catalogue, Gazetteer] = weakref.WeakKeyDictionary()
_GAZETTEERS_LOCK = threading.Lock()


def gazetteer_of(catalogue: Catalogue) -> Gazetteer:
    """The place-name index over the areas of ``catalogue``, built once per catalogue object.

    The catalogue is kernel data and knows nothing of place extraction; the index is cached here,
    weakly keyed by the catalogue, so it lives exactly as long as the catalogue it was built from.
    """
    with _GAZETTEERS_LOCK:
        gz = _GAZETTEERS.get(catalogue)
        if gz is None:
            gz = _GAZETTEERS[catalogue] = Gazetteer(catalogue.areas)
        return gz


def extract_places(text: str, gazetteer: Gazetteer | Catalogue, hint: Any = None) -> PlaceResult:
    """Find the place of ``text``. ``gazetteer`` may be a ``Gazetteer`` or a ``Catalogue``.

    ``hint`` (``PlaceHint`` or a mapping of district_code / street_code / community_code) is the place of
    the caller's earlier cases; it breaks ties in the text and is used alone (low confidence) when the text
    names no area.
    """
    gz = gazetteer if isinstance(gazetteer, Gazetteer) else gazetteer_of(gazetteer)
    hint_codes = _hint_codes(hint)
    result = PlaceResult()
    text = text or ""
    hits = gz.scan(text)
    candidates: dict[str, float] = {}
    for _start, _end, alias in hits:
        result.matched.append(alias)
        entries = gz.aliases[alias]
        for entry in entries:
            weight = (1.0 if entry.exact else 0.7) / len(entries)
            candidates[entry.code] = max(candidates.get(entry.code, 0.0), weight)
    if candidates:
        mentioned_districts = {c for c in candidates if gz.areas[c].level == "district"}
        mentioned_streets = {c for c in candidates if gz.areas[c].level == "street"}

        def score(code: str) -> float:
            area = gz.areas[code]
            s = candidates[code] + {"community": 0.3, "street": 0.2, "district": 0.1}[area.level]
            if area.level != "district" and code[:6] in mentioned_districts:
                s += 0.5
            if area.level == "community" and area.parent_code in mentioned_streets:
                s += 0.5
            if hint_codes and code[:6] == (hint_codes.district_code or "")[:6]:
                s += 0.05
            if hint_codes and hint_codes.street_code and code[:9] == hint_codes.street_code:
                s += 0.05
            return s

        ranked = sorted(candidates, key=lambda c: (score(c), len(c)), reverse=True)
        best = ranked[0]
        _fill(result, gz.areas, best)
        # a mentioned street of the same district that the best chain lacks
        if result.street_code is None:
            for code in ranked:
                if gz.areas[code].level == "street" and code[:6] == result.district_code:
                    _fill(result, gz.areas, code)
                    break
        ambiguous = (
            len(ranked) > 1 and abs(score(ranked[1]) - score(best)) < 1e-9 and ranked[1][:6] != best[:6]
        )
        level_conf = {"community": 0.9, "street": 0.8, "district": 0.55}[gz.areas[best].level]
        if ambiguous:
            level_conf *= 0.6
        result.confidence = level_conf
        result.source = "text"
    _patterns(text, gz, result)
    if result.source == "text" and (result.road or result.compound):
        result.confidence = min(1.0, result.confidence + 0.05)
    if result.district_code is None and hint_codes is not None:
        _fill(
            result, gz.areas, hint_codes.community_code or hint_codes.street_code or hint_codes.district_code
        )
        if result.district_code is not None:
            result.source = "history"
            result.confidence = 0.35
    elif result.source == "none" and (result.road or result.compound or result.landmark):
        result.confidence = 0.2
    result.confidence = round(result.confidence, 3)
    return result


#: compound endings that are common words too: such a compound counts only as a known place name
_LOOSE_COMPOUND = ("村", "里", "苑", "社区")


def _alias_suffix(piece: str, gz: Gazetteer) -> bool:
    """Whether a suffix of ``piece`` of three characters or more is a place name of the gazetteer."""
    return any(piece[i:] in gz.aliases for i in range(len(piece) - 2))


def _patterns(text: str, gz: Gazetteer, result: PlaceResult) -> None:
    cross = next(_finditer(_INTERSECTION, text), None)
    if cross:
        first = _trim_lead(cross.group(1), gz)
        result.road = f"{first}与{cross.group(2)}交叉口"
    else:
        for m in _finditer(_ROAD, text):
            road = _trim_lead(m.group(1), gz)
            if len(road) < 3 or road in _NOT_ROADS or "条" in road or road in gz.aliases:
                continue
            result.road = road
            break
    for m in _finditer(_COMPOUND, text):
        if not m.group(2) and m.group(1).endswith(_LOOSE_COMPOUND) and not _alias_suffix(m.group(1), gz):
            continue  # 家里, 我们村: the trimmed name (a suffix) would not be a known place either
        name = _trim_lead(m.group(1), gz)
        if len(name) < 3 or name in {"这个小区", "我们小区", "那个小区", "我们社区", "这个社区", "农村"}:
            continue
        if name.endswith(_LOOSE_COMPOUND) and name not in gz.aliases and not m.group(2):
            continue
        result.compound = name
        if m.group(2):
            result.building = str(chinese_number(m.group(2)))
        break
    if result.building is None:
        b = _BUILDING.search(text)
        if b:
            result.building = str(chinese_number(b.group(1)))
    lm = next(_finditer(_LANDMARK, text), None)
    if lm:
        result.landmark = _trim_lead(lm.group(1), gz)
