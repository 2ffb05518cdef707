"""Matter catalogue (事项目录), units (承办单位), responsibility list (权责清单) and areas (行政区划).

Kernel data: cases reference matter, unit and area codes, ``callcenter seed`` loads the catalogue into
the database and the classifier plugin routes and trains on it. Both read the versioned CSV files
under ``callcenter/data/catalogue`` (built by :mod:`callcenter.catalogue.build`, provenance in its
``PROVENANCE.md``) through this one parser, so they cannot disagree on what a row means: one set of
defaults, one set of checks, errors that name the file and line (:class:`CatalogueError`).

Pure data: no database, no network. :func:`read_catalogue` reads the files afresh (the seed);
:func:`load_catalogue` is the same, cached per directory for the process (the classifier). What a
consumer derives from a catalogue (the classifier's place-name index) it caches itself.
:func:`with_rules` is a catalogue with another responsibility list: the database's, which the admin
screen edits, is the one routing uses (the files' list is what ``callcenter seed`` loads into it).
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "catalogue"
CATEGORIES_FILE = "categories.csv"
MATTERS_FILE = "matters.csv"
UNITS_FILE = "units.csv"
#: Optional: a folder without it has no rules (and the seed leaves the database's rules alone).
RULES_FILE = "responsibility_rules.csv"
AREAS_FILE = "gazetteer/areas.csv"
#: The files of a catalogue folder, in the order :func:`data_hash` covers them.
DATA_FILES = (CATEGORIES_FILE, MATTERS_FILE, UNITS_FILE, RULES_FILE, AREAS_FILE)
OWNER_RULES = ("industry", "locality")
#: Defaults of optional matter columns (a hand-edited row may leave them empty).
DEFAULT_OWNER_RULE = "locality"
LIMIT_UNITS = ("", "hours", "calendar_days", "working_days")  # how handle_days count (时限计算方式)
DEFAULT_ACCEPT_HOURS = 2.0
DEFAULT_HANDLE_DAYS = 7.0


class CatalogueError(ValueError):
    """A catalogue file is missing or malformed; the message names the file and line."""


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
    limit_unit: str = ""  # hours | calendar_days | working_days; "" = settings.deadlines.default_unit


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


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Catalogue:
    """The whole catalogue of one folder, indexed by code (what the seed writes, what routing reads).

    Compared and hashed by identity (a loaded catalogue is shared and never mutated), and weakly
    referenceable, so consumers can cache what they derive from it (the classifier's gazetteer).
    """

    categories: dict[str, Category]
    matters: dict[str, Matter]
    units: dict[str, Unit]
    rules: dict[tuple[str, str], dict[str, Rule]]  # (matter_code, area_code) -> rule_kind -> rule
    areas: dict[str, Area]
    data_hash: str
    data_dir: Path
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)

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


class _File:
    """One CSV file of a catalogue folder: its rows (cells stripped) with line numbers, and the checks."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.path = data_dir / name
        self.name = self.path.name

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        if not self.path.exists():
            raise CatalogueError(f"missing data file {self.path}")
        with self.path.open(encoding="utf-8", newline="") as fh:
            for lineno, row in enumerate(csv.DictReader(fh), start=2):
                yield lineno, {k: (v or "").strip() for k, v in row.items() if k is not None}

    def error(self, lineno: int, message: str) -> CatalogueError:
        return CatalogueError(f"{self.name}:{lineno}: {message}")

    def require(self, row: dict[str, str], lineno: int, *cols: str) -> None:
        for col in cols:
            if not row.get(col):
                raise self.error(lineno, f"column {col!r} is empty")

    def number(self, row: dict[str, str], lineno: int, col: str, default: float) -> float:
        cell = row.get(col, "")
        try:
            return float(cell) if cell else default
        except ValueError:
            raise self.error(lineno, f"column {col!r} is not a number: {cell!r}") from None

    def unique(self, seen: Mapping[str, object], code: str, lineno: int) -> str:
        if code in seen:
            raise self.error(lineno, f"duplicate code {code!r}")
        return code


def data_hash(data_dir: Path | str | None = None) -> str:
    """SHA-256 over the catalogue data files (the model metadata records it); absent optional files
    are skipped."""
    data_dir = Path(data_dir or DEFAULT_DATA_DIR)
    digest = hashlib.sha256()
    for name in DATA_FILES:
        path = data_dir / name
        if name == RULES_FILE and not path.exists():
            continue
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_catalogue(data_dir: Path | str | None = None) -> Catalogue:
    """Read and check the catalogue in ``data_dir`` (default ``callcenter/data/catalogue``), uncached.

    Raises :class:`CatalogueError` (naming the file and line) for a missing file, an empty required
    column, a duplicate code or rule, an unknown category or unit, or a bad owner rule or number.
    """
    data_dir = Path(data_dir or DEFAULT_DATA_DIR)

    file = _File(data_dir, AREAS_FILE)
    areas: dict[str, Area] = {}
    for lineno, r in file.rows():
        file.require(r, lineno, "code", "name", "level")
        code = file.unique(areas, r["code"], lineno)
        areas[code] = Area(code, r["name"], r["level"], r.get("parent_code", ""), r.get("handled_by", ""))

    file = _File(data_dir, UNITS_FILE)
    units: dict[str, Unit] = {}
    for lineno, r in file.rows():
        file.require(r, lineno, "code", "name", "kind")
        code = file.unique(units, r["code"], lineno)
        units[code] = Unit(
            code,
            r["name"],
            r["kind"],
            r.get("parent_code", ""),
            r.get("area_code", ""),
            r.get("industry", ""),
            r.get("phone", ""),
        )

    file = _File(data_dir, CATEGORIES_FILE)
    categories: dict[str, Category] = {}
    for lineno, r in file.rows():
        file.require(r, lineno, "code", "name")
        code = file.unique(categories, r["code"], lineno)
        categories[code] = Category(code, r["name"])

    file = _File(data_dir, MATTERS_FILE)
    matters: dict[str, Matter] = {}
    for lineno, r in file.rows():
        file.require(r, lineno, "code", "category_code", "name")
        code = file.unique(matters, r["code"], lineno)
        if r["category_code"] not in categories:
            raise file.error(lineno, f"unknown category {r['category_code']!r}")
        owner_rule = r.get("owner_rule") or DEFAULT_OWNER_RULE
        if owner_rule not in OWNER_RULES:
            raise file.error(lineno, "owner_rule must be industry or locality")
        limit_unit = (r.get("limit_unit") or "").strip()
        if limit_unit not in LIMIT_UNITS:
            raise file.error(lineno, "limit_unit must be hours, calendar_days or working_days (or empty)")
        matters[code] = Matter(
            code=code,
            category_code=r["category_code"],
            name=r["name"],
            description=r.get("description", ""),
            keywords=_split(r.get("keywords", "")),
            phrasings=_split(r.get("phrasings", "")),
            owner_rule=owner_rule,
            industry=r.get("industry", ""),
            accept_hours=file.number(r, lineno, "accept_hours", DEFAULT_ACCEPT_HOURS),
            handle_days=file.number(r, lineno, "handle_days", DEFAULT_HANDLE_DAYS),
            source=r.get("source", ""),
            limit_unit=limit_unit,
        )

    file = _File(data_dir, RULES_FILE)
    rules: dict[tuple[str, str], dict[str, Rule]] = defaultdict(dict)
    if file.path.exists():
        for lineno, r in file.rows():
            file.require(r, lineno, "matter_code", "area_code", "unit_code", "rule_kind")
            by_kind = rules[(r["matter_code"], r["area_code"])]
            if r["rule_kind"] in by_kind:
                key = (r["matter_code"], r["area_code"], r["rule_kind"])
                raise file.error(lineno, f"duplicate rule {key}")
            if r["unit_code"] not in units:
                raise file.error(lineno, f"unknown unit {r['unit_code']!r}")
            by_kind[r["rule_kind"]] = Rule(
                r["matter_code"], r["area_code"], r["unit_code"], r["rule_kind"], r.get("note", "")
            )

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


def rules_map(rules: Iterable[Rule]) -> dict[tuple[str, str], dict[str, Rule]]:
    """``Catalogue.rules`` of a list of rules: (matter_code, area_code) → rule_kind → rule (a later rule of
    the same matter, area and kind replaces an earlier one)."""
    out: dict[tuple[str, str], dict[str, Rule]] = defaultdict(dict)
    for rule in rules:
        out[(rule.matter_code, rule.area_code)][rule.rule_kind] = rule
    return dict(out)


def with_rules(catalogue: Catalogue, rules: Iterable[Rule], units: Iterable[Unit] = ()) -> Catalogue:
    """A copy of ``catalogue`` whose responsibility list is ``rules`` (replacing the files' list) and with
    ``units`` added to (or replacing, by code) the files' units: the database's rules, as edited in the
    admin screen, for routing. The other tables are shared with ``catalogue``, never copied."""
    merged = dict(catalogue.units)
    merged.update((u.code, u) for u in units)
    return replace(catalogue, units=merged, rules=rules_map(rules))


@lru_cache(maxsize=4)
def _load_cached(data_dir: str) -> Catalogue:
    return read_catalogue(Path(data_dir))


def load_catalogue(data_dir: Path | str | None = None) -> Catalogue:
    """The catalogue in ``data_dir`` (default ``callcenter/data/catalogue``), read once per directory
    and process (:func:`read_catalogue` reads afresh)."""
    return _load_cached(str(Path(data_dir or DEFAULT_DATA_DIR).resolve()))
