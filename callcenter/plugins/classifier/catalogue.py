"""Matter catalogue (事项目录), units (承办单位), responsibility list (权责清单) and gazetteer (行政区划).

Loads the versioned CSV files under ``classifier/data`` into immutable in-memory structures. Pure data:
no database, no network. ``load_catalogue()`` without arguments is cached per process.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.plugins.classifier.places import Gazetteer

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILES = (
    "categories.csv",
    "matters.csv",
    "units.csv",
    "responsibility_rules.csv",
    "gazetteer/areas.csv",
)


@dataclass(frozen=True, slots=True)
class Category:
    """Matter category (事项大类)."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Matter:
    """A matter (管理事项 / 诉求事项) with keywords, colloquial phrasings and its owner rule (属地 / 行业)."""

    code: str
    category_code: str
    name: str
    description: str
    keywords: tuple[str, ...]
    phrasings: tuple[str, ...]
    owner_rule: str  # industry | locality
    industry: str
    accept_hours: float
    handle_days: float
    source: str


@dataclass(frozen=True, slots=True)
class Unit:
    """A handling unit (承办单位)."""

    code: str
    name: str
    kind: str  # center | district_bureau | street_office | community | utility
    parent_code: str
    area_code: str
    industry: str
    phone: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A responsibility-list entry (权责清单): matter × area → unit."""

    matter_code: str
    area_code: str
    unit_code: str
    rule_kind: str  # industry | locality | override
    note: str


@dataclass(frozen=True, slots=True)
class Area:
    """Administrative area (行政区划)."""

    code: str
    name: str
    level: str  # province | city | district | street | community
    parent_code: str
    handled_by: str = ""  # street code of the office that actually handles cases here (hand mapping)


@dataclass(slots=True)
class Catalogue:
    """Everything the suggester and the dispatcher need, indexed by code."""

    categories: dict[str, Category]
    matters: dict[str, Matter]
    units: dict[str, Unit]
    rules: dict[tuple[str, str], dict[str, Rule]]  # (matter_code, area_code) -> rule_kind -> rule
    areas: dict[str, Area]
    data_hash: str
    data_dir: Path
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _gazetteer: Gazetteer | None = field(default=None, repr=False)

    @property
    def gazetteer(self) -> Gazetteer:
        """The place-name index over ``areas`` (built once per catalogue)."""
        if self._gazetteer is None:
            from callcenter.plugins.classifier.places import Gazetteer

            self._gazetteer = Gazetteer(self.areas)
        return self._gazetteer

    @property
    def rule_count(self) -> int:
        return sum(len(v) for v in self.rules.values())

    def district_of(self, area_code: str | None) -> str | None:
        """The district code (6 digits) of any area code of the four seed districts, else None."""
        if not area_code or len(area_code) < 6:
            return None
        code = area_code[:6]
        area = self.areas.get(code)
        return code if area is not None and area.level == "district" else None

    def children(self, code: str) -> list[str]:
        return self._children.get(code, [])

    def category_of(self, matter_code: str) -> Category:
        return self.categories[self.matters[matter_code].category_code]


def codes_of(area: Any) -> tuple[str | None, str | None, str | None]:
    """(district, street, community) codes of an object with ``district_code`` … attributes or of a mapping
    with ``district_code`` / ``district`` … keys (the pipeline's caller-history hint uses the short keys)."""
    if area is None:
        return None, None, None
    if isinstance(area, Mapping):
        get = area.get
        return (
            get("district_code") or get("district"),
            get("street_code") or get("street"),
            get("community_code") or get("community"),
        )
    return (
        getattr(area, "district_code", None),
        getattr(area, "street_code", None),
        getattr(area, "community_code", None),
    )


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in cell.split("|") if p.strip())


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def data_hash(data_dir: Path | None = None) -> str:
    """SHA-256 over the catalogue data files (the model metadata records it)."""
    data_dir = Path(data_dir or DEFAULT_DATA_DIR)
    digest = hashlib.sha256()
    for name in DATA_FILES:
        digest.update(name.encode())
        digest.update((data_dir / name).read_bytes())
    return digest.hexdigest()


def _load(data_dir: Path) -> Catalogue:
    categories = {r["code"]: Category(r["code"], r["name"]) for r in _read(data_dir / "categories.csv")}
    matters: dict[str, Matter] = {}
    for r in _read(data_dir / "matters.csv"):
        if r["category_code"] not in categories:
            raise ValueError(f"matter {r['code']}: unknown category {r['category_code']}")
        if r["owner_rule"] not in {"industry", "locality"}:
            raise ValueError(f"matter {r['code']}: owner_rule must be industry or locality")
        matters[r["code"]] = Matter(
            code=r["code"],
            category_code=r["category_code"],
            name=r["name"],
            description=r["description"],
            keywords=_split(r["keywords"]),
            phrasings=_split(r["phrasings"]),
            owner_rule=r["owner_rule"],
            industry=r["industry"],
            accept_hours=float(r["accept_hours"]),
            handle_days=float(r["handle_days"]),
            source=r["source"],
        )
    units = {
        r["code"]: Unit(
            r["code"], r["name"], r["kind"], r["parent_code"], r["area_code"], r["industry"], r["phone"]
        )
        for r in _read(data_dir / "units.csv")
    }
    rules: dict[tuple[str, str], dict[str, Rule]] = defaultdict(dict)
    for r in _read(data_dir / "responsibility_rules.csv"):
        if r["unit_code"] not in units:
            raise ValueError(f"rule {r['matter_code']}@{r['area_code']}: unknown unit {r['unit_code']}")
        rules[(r["matter_code"], r["area_code"])][r["rule_kind"]] = Rule(
            r["matter_code"], r["area_code"], r["unit_code"], r["rule_kind"], r["note"]
        )
    areas = {
        r["code"]: Area(r["code"], r["name"], r["level"], r["parent_code"], r.get("handled_by") or "")
        for r in _read(data_dir / "gazetteer" / "areas.csv")
    }
    children: dict[str, list[str]] = defaultdict(list)
    for a in areas.values():
        if a.parent_code:
            children[a.parent_code].append(a.code)
    return Catalogue(
        categories=categories,
        matters=matters,
        units=units,
        rules=dict(rules),
        areas=areas,
        data_hash=data_hash(data_dir),
        data_dir=data_dir,
        _children=dict(children),
    )


@lru_cache(maxsize=4)
def _load_cached(data_dir: str) -> Catalogue:
    return _load(Path(data_dir))


def load_catalogue(data_dir: Path | str | None = None) -> Catalogue:
    """Load the catalogue from ``data_dir`` (default: ``classifier/data``); cached per directory."""
    return _load_cached(str(Path(data_dir or DEFAULT_DATA_DIR).resolve()))
