"""Build the matter catalogue (事项目录), units (承办单位), responsibility list (权责清单) and areas.

``callcenter catalogue-build`` (or ``python -m callcenter.catalogue.build``) regenerates the CSV files
of ``callcenter/data/catalogue`` from the national reference data in ``../shared/data`` and the
hand-written tables in ``callcenter/catalogue/sources`` (one file per table, each with a header that
says what it is; provenance in ``callcenter/data/catalogue/PROVENANCE.md``). The generated CSVs are
committed, so the seed and the classifier need neither ``../shared`` nor this module; a test checks
that a rebuild reproduces them byte for byte.

Sources:

* GB/T 47678.5-2026 管理部件和事项 (250 管理事项 → categories 01-10),
* the 2020 Teddy Cup 15/103/390 government-message label tree (→ categories 11-29),
* matters named in the project's source documents (油烟扰民, 电梯故障, 停水停电, 拖欠工资 …),
* NBS 2023 administrative division codes (WTFPL) for the four seed districts.

Why the builder is a kernel tool, not the classifier's: what it writes is kernel data — cases
reference its matter, unit and area codes and ``callcenter seed`` loads it — and it uses no classifier
code. A center that runs without the classifier plugin (or with another suggester) still has to
rebuild its catalogue, and a plugin owning the kernel's data would turn the dependency around. The
keywords and colloquial phrasings it writes are catalogue columns (hot words for speech, training
text for the classifier), not classifier internals.
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter import config
from callcenter.catalogue import DEFAULT_DATA_DIR

DATA_DIR = DEFAULT_DATA_DIR
SHARED_DIR = config.SHARED_DIR / "data"
SOURCES_DIR = Path(__file__).resolve().parent / "sources"

SOURCE_GB = "GB/T 47678.5-2026 "
SOURCE_TEDDY = "Teddy Cup 2020 C "
SOURCE_DOCS = "source documents"


# --------------------------------------------------------------------------------------------------
# The hand-written tables (sources/)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandMatter:
    """A matter of the source documents that the taxonomies lack (``hand_matters.csv``)."""

    category_code: str
    name: str
    description: str
    keywords: list[str]
    phrasings: list[str]
    owner_rule: str
    industry: str
    accept_hours: float
    handle_days: float


@dataclass(frozen=True)
class Tables:
    """Everything the builder knows beyond ``../shared``, read from ``sources/`` (file order kept)."""

    provinces: dict[str, str]  # code → name
    cities: dict[str, tuple[str, str]]  # code → (name, province code)
    districts: dict[str, str]  # the seed districts: code → name
    district_city: dict[str, str]  # district code → city code
    handled_by: dict[str, str]  # statistical unit → the street that handles its cases
    categories: list[tuple[str, str]]  # (code, name)
    category_defaults: dict[str, tuple[str, str, float, float]]  # (owner rule, industry, accept, handle)
    gb_category: dict[str, str]  # GB 大类 → category
    teddy_category: dict[str, dict[str, Any]]  # Teddy 一级 → {default, level2, level3}
    merged_into_gb: frozenset[str]
    merged_into_hand: dict[str, str]
    excluded_level2: frozenset[str]
    bureaus: dict[str, tuple[str, str, str]]  # industry → (code suffix, Beijing name, Chengdu name)
    utilities: dict[str, dict[str, tuple[str, str, str]]]  # city → industry → (code, name, phone)
    hand: dict[str, tuple[list[str], list[str]]]  # matter name → (keywords, phrasings)
    hand_matters: list[HandMatter]
    name_rules: list[tuple[str, str, str]]  # (name fragment, owner rule, industry), first match wins
    urgent_words: tuple[str, ...]
    urgent_limits: tuple[float, float]  # (accept_hours, handle_days)
    part_synonyms: dict[str, list[str]]
    part_templates: list[tuple[str, list[str]]]  # (fragment of the part name, templates with {p})
    overrides: list[tuple[str, str, str, str]]  # (matter name, street code, unit code, note)


def _csv(path: Path) -> list[dict[str, str]]:
    """The rows of a source CSV; lines starting with ``#`` are comments (the file's header, sections)."""
    with open(path, encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if not line.startswith("#") and line.strip()]
    return list(csv.DictReader(lines))


def _keyed(rows: list[dict[str, str]], key: str, path: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if row[key] in out:
            raise ValueError(f"{path.name}: duplicate {key} {row[key]!r}")
        out[row[key]] = row
    return out


def _items(cell: str) -> list[str]:
    """A ``|``-separated cell, as in matters.csv."""
    return cell.split("|") if cell else []


def load_tables(sources_dir: Path = SOURCES_DIR) -> Tables:
    """Read the hand-written tables of ``sources_dir``."""

    def toml(name: str) -> dict[str, Any]:
        with open(sources_dir / name, "rb") as fh:
            return tomllib.load(fh)

    def keyed(name: str, key: str) -> dict[str, dict[str, str]]:
        return _keyed(_csv(sources_dir / name), key, sources_dir / name)

    areas = toml("areas.toml")
    taxonomy = toml("taxonomy.toml")
    phrasing = toml("phrasing.toml")
    categories = keyed("categories.csv", "code")
    utilities: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for r in _csv(sources_dir / "utilities.csv"):
        if r["industry"] in utilities[r["city"]]:
            raise ValueError(f"utilities.csv: duplicate {r['city']} {r['industry']}")
        utilities[r["city"]][r["industry"]] = (r["code"], r["name"], r["phone"])
    return Tables(
        provinces=dict(areas["provinces"]),
        cities={code: (c["name"], c["province"]) for code, c in areas["cities"].items()},
        districts={code: d["name"] for code, d in areas["districts"].items()},
        district_city={code: d["city"] for code, d in areas["districts"].items()},
        handled_by={code: h["street"] for code, h in areas["handled_by"].items()},
        categories=[(code, r["name"]) for code, r in categories.items()],
        category_defaults={
            code: (r["owner_rule"], r["industry"], float(r["accept_hours"]), float(r["handle_days"]))
            for code, r in categories.items()
        },
        gb_category=dict(taxonomy["gb_category"]),
        teddy_category=taxonomy["teddy_category"],
        merged_into_gb=frozenset(taxonomy["teddy"]["merged_into_gb"]),
        merged_into_hand=dict(taxonomy["teddy"]["merged_into_hand"]),
        excluded_level2=frozenset(taxonomy["teddy"]["excluded_level2"]),
        bureaus={
            k: (r["code_suffix"], r["beijing_name"], r["chengdu_name"])
            for k, r in keyed("bureaus.csv", "industry").items()
        },
        utilities=dict(utilities),
        hand={
            name: (_items(r["keywords"]), _items(r["phrasings"]))
            for name, r in keyed("hand_keywords.csv", "name").items()
        },
        hand_matters=[
            HandMatter(
                r["category_code"],
                r["name"],
                r["description"],
                _items(r["keywords"]),
                _items(r["phrasings"]),
                r["owner_rule"],
                r["industry"],
                float(r["accept_hours"]),
                float(r["handle_days"]),
            )
            for r in keyed("hand_matters.csv", "name").values()
        ],
        name_rules=[
            (r["fragment"], r["owner_rule"], r["industry"]) for r in _csv(sources_dir / "name_rules.csv")
        ],
        urgent_words=tuple(phrasing["urgent"]["words"]),
        urgent_limits=(float(phrasing["urgent"]["accept_hours"]), float(phrasing["urgent"]["handle_days"])),
        part_synonyms=dict(phrasing["part_synonyms"]),
        part_templates=[(p["fragment"], list(p["templates"])) for p in phrasing["part_templates"]],
        overrides=[
            (r["matter_name"], r["street_code"], r["unit_code"], r["note"])
            for r in _csv(sources_dir / "overrides.csv")
        ],
    )


# --------------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------------
def bureau_name(t: Tables, district_code: str, industry: str) -> str:
    district = t.districts[district_code]
    _suffix, beijing, chengdu = t.bureaus[industry]
    if industry == "公安":
        return (
            f"北京市公安局{district[:-1]}分局"
            if district_code.startswith("11")
            else f"成都市公安局{district}分局"
        )
    if industry == "规划" and district_code.startswith("11"):
        return f"北京市规划和自然资源委员会{district[:-1]}分局"
    return district + (beijing if district_code.startswith("11") else chengdu)


def bureau_code(t: Tables, district_code: str, industry: str) -> str:
    return f"{district_code}-{t.bureaus[industry][0]}"


def center_code(district_code: str) -> str:
    return f"{district_code}-12345"


# --------------------------------------------------------------------------------------------------
# Matters
# --------------------------------------------------------------------------------------------------
@dataclass
class MatterRow:
    code: str
    category_code: str
    name: str
    description: str
    keywords: list[str]
    phrasings: list[str]
    owner_rule: str
    industry: str
    accept_hours: float
    handle_days: float
    source: str


def _clean(name: str) -> str:
    return re.sub(r"[（(].*?[)）]", "", name).replace("、", "").strip()


def _name_rule(t: Tables, name: str, category: str) -> tuple[str, str]:
    for fragment, rule, industry in t.name_rules:
        if fragment in name:
            return rule, industry
    rule, industry, _, _ = t.category_defaults[category]
    return rule, industry


def _part_phrasings(t: Tables, part: str) -> list[str]:
    names = [part, *[s for k, v in t.part_synonyms.items() if part.endswith(k) for s in v]]
    for fragment, templates in t.part_templates:
        if fragment in part:
            return [tpl.format(p=n) for n in names for tpl in templates][:8]
    return []


def _generic_phrasings(name: str, level2: str) -> list[str]:
    short = _clean(name)
    out = [f"我想反映一下{short}的问题", f"咨询一下{short}方面的事", f"关于{short}我要投诉"]
    if level2 and level2 not in short:
        out.append(f"{level2}方面，{short}的问题一直没人管")
    return out


def _time_limits(t: Tables, category: str, name: str) -> tuple[float, float]:
    _, _, accept, handle = t.category_defaults[category]
    if any(w in name for w in t.urgent_words):
        return t.urgent_limits
    return accept, handle


def _teddy_category(t: Tables, l1: str, l2: str, l3: str) -> str:
    """The category of a Teddy Cup label: its 三级 entry, else its 二级 entry, else the 一级 default."""
    spec = t.teddy_category[l1]
    by_l3 = spec.get("level3", {}).get(l2, {})
    return str(by_l3.get(l3) or spec.get("level2", {}).get(l2) or spec["default"])


def _dedup(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip().replace("|", "/")
        if item:
            seen.setdefault(item, None)
    return list(seen)


def build_matters(t: Tables, shared_dir: Path = SHARED_DIR) -> list[MatterRow]:
    rows: list[MatterRow] = []
    used_names: set[str] = set()
    # GB/T 47678.5-2026 管理事项 -> categories 01-10
    with open(shared_dir / "taxonomy" / "gbt47678.5-2026_parts_and_matters.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["kind"] != "管理事项":
                continue
            cat = t.gb_category[rec["category"]]
            name = rec["name"]
            gb_code = rec["code"]
            part = name[:-2] if name.endswith("异常") else ""
            kw, phr = t.hand.get(name, ([], []))
            keywords = [_clean(part or name), *kw]
            phrasings = list(phr)
            if part:
                phrasings += _part_phrasings(t, _clean(part))
                description = f"{part}损坏、缺失、移位或功能异常（管理部件 {gb_code}）"
            else:
                short = _clean(name)
                generic = [
                    f"有{short}的问题",
                    f"这里{short}没人管",
                    f"发现{short}的情况",
                    f"{short}的情况很严重",
                ]
                phrasings += generic[: max(0, 4 - len(phrasings))]
                description = f"{name}（城市管理事项 {gb_code}）"
            rule, industry = _name_rule(t, name, cat)
            accept, handle = _time_limits(t, cat, name)
            rows.append(
                MatterRow(
                    f"{cat}00{gb_code[2:]}",
                    cat,
                    name,
                    description,
                    _dedup(keywords),
                    _dedup(phrasings),
                    rule,
                    industry,
                    accept,
                    handle,
                    SOURCE_GB + gb_code,
                )
            )
            used_names.add(_clean(name))
    # Teddy Cup label tree -> categories 11-29
    groups: dict[str, dict[str, int]] = defaultdict(dict)
    seq: dict[tuple[str, int], int] = defaultdict(int)
    with open(shared_dir / "taxonomy" / "teddycup2020_fj1_3level_labels.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            l1, l2, l3 = rec["一级分类"], rec["二级分类"], rec["三级分类"]
            if (
                l3 in t.merged_into_gb
                or l3 in t.merged_into_hand
                or l2 in t.excluded_level2
                or (l2 == "其他" and l3 == "其他")
            ):
                continue
            cat = _teddy_category(t, l1, l2, l3)
            name = f"{l2}其他问题" if l3 == "其他" else l3
            if l2 == "其他" and l3 == "其他":
                name = f"{l1}其他问题"
            if _clean(name) in used_names:
                name = f"{l2}{l3}" if not l3.startswith(l2) else f"{l1}{l3}"
            if _clean(name) in used_names:
                continue
            used_names.add(_clean(name))
            grp = groups[cat].setdefault(l2, len(groups[cat]) + 1)
            seq[(cat, grp)] += 1
            kw, phr = t.hand.get(name, ([], []))
            keywords = [_clean(name) if l3 != "其他" else l2, *kw]
            phrasings = list(phr) + _generic_phrasings(
                name if l3 != "其他" else l2, l2 if l3 != "其他" else ""
            )
            rule, industry = _name_rule(t, l3 if l3 != "其他" else l2, cat)
            if rule == t.category_defaults[cat][0] and industry == t.category_defaults[cat][1]:
                rule, industry = _name_rule(t, l2, cat)
            accept, handle = _time_limits(t, cat, name)
            rows.append(
                MatterRow(
                    f"{cat}{grp:02d}{seq[(cat, grp)]:03d}",
                    cat,
                    name,
                    f"{l1} / {l2} / {l3}",
                    _dedup(keywords),
                    _dedup(phrasings),
                    rule,
                    industry,
                    accept,
                    handle,
                    f"{SOURCE_TEDDY}{l1}/{l2}/{l3}"[:64],
                )
            )
    # matters named in the source documents
    hand_seq: dict[str, int] = defaultdict(int)
    for hm in t.hand_matters:
        cat, name = hm.category_code, hm.name
        hand_seq[cat] += 1
        kw = hm.keywords + [teddy for teddy, hand in t.merged_into_hand.items() if hand == name]
        phr = hm.phrasings + [f"我要反映{name}的问题", f"{kw[0]}这个事谁管"][: max(0, 3 - len(hm.phrasings))]
        rows.append(
            MatterRow(
                f"{cat}90{hand_seq[cat]:03d}",
                cat,
                name,
                hm.description,
                _dedup([name, *kw]),
                phr,
                hm.owner_rule,
                hm.industry,
                hm.accept_hours,
                hm.handle_days,
                SOURCE_DOCS,
            )
        )
    codes = [r.code for r in rows]
    assert len(codes) == len(set(codes)), "duplicate matter codes"
    return rows


# --------------------------------------------------------------------------------------------------
# Gazetteer subset, units, rules
# --------------------------------------------------------------------------------------------------
def build_areas(t: Tables, shared_dir: Path = SHARED_DIR) -> list[dict[str, str]]:
    gz = shared_dir / "gazetteer"
    rows: list[dict[str, str]] = []
    for code, name in t.provinces.items():
        rows.append({"code": code, "name": name, "level": "province", "parent_code": "", "handled_by": ""})
    for code, (name, prov) in t.cities.items():
        rows.append({"code": code, "name": name, "level": "city", "parent_code": prov, "handled_by": ""})
    for code, name in t.districts.items():
        rows.append(
            {
                "code": code,
                "name": name,
                "level": "district",
                "parent_code": t.district_city[code],
                "handled_by": "",
            }
        )
    with open(gz / "streets.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["areaCode"] in t.districts:
                rows.append(
                    {
                        "code": rec["code"],
                        "name": rec["name"],
                        "level": "street",
                        "parent_code": rec["areaCode"],
                        "handled_by": t.handled_by.get(rec["code"], ""),
                    }
                )
    with open(gz / "villages_beijing_chengdu.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["areaCode"].strip() in t.districts:
                rows.append(
                    {
                        "code": rec["code"],
                        "name": rec["name"].strip(),
                        "level": "community",
                        "parent_code": rec["streetCode"],
                        "handled_by": "",
                    }
                )
    return rows


def build_units(t: Tables, areas: list[dict[str, str]]) -> list[dict[str, str]]:
    units: list[dict[str, str]] = []
    for code, district in t.districts.items():
        units.append(
            {
                "code": center_code(code),
                "name": f"{district}12345市民服务热线分中心",
                "kind": "center",
                "parent_code": "",
                "area_code": code,
                "industry": "",
                "phone": "12345",
            }
        )
        for industry in t.bureaus:
            units.append(
                {
                    "code": bureau_code(t, code, industry),
                    "name": bureau_name(t, code, industry),
                    "kind": "district_bureau",
                    "parent_code": center_code(code),
                    "area_code": code,
                    "industry": industry,
                    "phone": "",
                }
            )
    for city, utils in t.utilities.items():
        for industry, (ucode, name, phone) in utils.items():
            units.append(
                {
                    "code": ucode,
                    "name": name,
                    "kind": "utility",
                    "parent_code": "",
                    "area_code": city,
                    "industry": industry,
                    "phone": phone,
                }
            )
    streets = {a["code"]: a for a in areas if a["level"] == "street"}
    for street in streets.values():
        if street["handled_by"]:
            continue
        name = street["name"]
        office = name + ("人民政府" if name.endswith(("镇", "乡")) else "办事处")
        units.append(
            {
                "code": f"S{street['code']}",
                "name": office,
                "kind": "street_office",
                "parent_code": center_code(street["parent_code"]),
                "area_code": street["code"],
                "industry": "",
                "phone": "",
            }
        )
    for area in areas:
        if area["level"] != "community":
            continue
        street = streets[area["parent_code"]]
        office_street = street["handled_by"] or street["code"]
        units.append(
            {
                "code": f"C{area['code']}",
                "name": area["name"],
                "kind": "community",
                "parent_code": f"S{office_street}",
                "area_code": area["code"],
                "industry": "",
                "phone": "",
            }
        )
    return units


def build_rules(
    t: Tables, matters: list[MatterRow], areas: list[dict[str, str]], units: list[dict[str, str]]
) -> list[dict[str, str]]:
    unit_codes = {u["code"] for u in units}
    streets_by_district: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in areas:
        if a["level"] == "street":
            streets_by_district[a["parent_code"]].append(a)
    rules: list[dict[str, str]] = []
    for m in matters:
        for district in t.districts:
            city = t.district_city[district]
            if m.owner_rule == "industry":
                if m.industry in t.utilities.get(city, {}):
                    unit = t.utilities[city][m.industry][0]
                    note = "公共服务企业（行业管理）"
                elif m.industry in t.bureaus:
                    unit = bureau_code(t, district, m.industry)
                    note = "行业管理"
                else:
                    unit = center_code(district)
                    note = f"本区无{m.industry}承办单位，由分中心人工派单"
                rules.append(
                    {
                        "matter_code": m.code,
                        "area_code": district,
                        "unit_code": unit,
                        "rule_kind": "industry",
                        "note": note,
                    }
                )
            else:
                rules.append(
                    {
                        "matter_code": m.code,
                        "area_code": district,
                        "unit_code": center_code(district),
                        "rule_kind": "locality",
                        "note": "属地管理：街道不明时由分中心派单",
                    }
                )
                for street in streets_by_district[district]:
                    office = street["handled_by"] or street["code"]
                    rules.append(
                        {
                            "matter_code": m.code,
                            "area_code": street["code"],
                            "unit_code": f"S{office}",
                            "rule_kind": "locality",
                            "note": "",
                        }
                    )
    by_name = {m.name: m.code for m in matters}
    for name, override_street, unit_code, note in t.overrides:
        assert unit_code in unit_codes, unit_code
        rules.append(
            {
                "matter_code": by_name[name],
                "area_code": override_street,
                "unit_code": unit_code,
                "rule_kind": "override",
                "note": note,
            }
        )
    return rules


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------
def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


def _fmt(value: float) -> str:
    return f"{value:g}"


def main(
    out_dir: Path = DATA_DIR, shared_dir: Path = SHARED_DIR, sources_dir: Path = SOURCES_DIR
) -> dict[str, int]:
    """Write the catalogue CSVs into ``out_dir``; returns the row counts."""
    t = load_tables(sources_dir)
    matters = build_matters(t, shared_dir)
    areas = build_areas(t, shared_dir)
    units = build_units(t, areas)
    rules = build_rules(t, matters, areas, units)
    _write(out_dir / "categories.csv", ["code", "name"], [{"code": c, "name": n} for c, n in t.categories])
    _write(
        out_dir / "matters.csv",
        [
            "code",
            "category_code",
            "name",
            "description",
            "keywords",
            "phrasings",
            "owner_rule",
            "industry",
            "accept_hours",
            "handle_days",
            "source",
        ],
        [
            {
                "code": m.code,
                "category_code": m.category_code,
                "name": m.name,
                "description": m.description,
                "keywords": "|".join(m.keywords),
                "phrasings": "|".join(m.phrasings),
                "owner_rule": m.owner_rule,
                "industry": m.industry,
                "accept_hours": _fmt(m.accept_hours),
                "handle_days": _fmt(m.handle_days),
                "source": m.source,
            }
            for m in matters
        ],
    )
    _write(
        out_dir / "units.csv",
        ["code", "name", "kind", "parent_code", "area_code", "industry", "phone"],
        units,
    )
    _write(
        out_dir / "responsibility_rules.csv",
        ["matter_code", "area_code", "unit_code", "rule_kind", "note"],
        rules,
    )
    _write(out_dir / "gazetteer" / "areas.csv", ["code", "name", "level", "parent_code", "handled_by"], areas)
    return {
        "categories": len(t.categories),
        "matters": len(matters),
        "units": len(units),
        "rules": len(rules),
        "areas": len(areas),
    }


if __name__ == "__main__":
    print(main())
