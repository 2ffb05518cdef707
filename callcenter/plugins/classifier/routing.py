"""Owning unit (承办单位) from the responsibility list (权责清单): pure functions, no I/O.

Order of precedence for a matter in an area:

1. a per-street override (特殊规定),
2. the industry rule (行业管理) of the district: a district bureau or a utility,
3. the locality rule (属地管理) of the street: the street office (街道办 / 乡镇政府); statistical units
   such as 北京经济技术开发区 are mapped to the street office that handles cases there,
4. the district's locality rule or, failing everything, the district 12345 center (分中心人工派单).

The rules are those of the catalogue given: the CSV files' (``load_catalogue``), or the database's as the
admin screen edits them (``callcenter.catalogue.with_rules``, read by
:mod:`callcenter.plugins.classifier.dbrules`, which is what the API and the pipeline route with).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from callcenter.catalogue import Catalogue, codes_of


@dataclass(frozen=True, slots=True)
class AreaRef:
    """Where a matter is: any of district / street / community codes (行政区划代码)."""

    district_code: str | None = None
    street_code: str | None = None
    community_code: str | None = None


@dataclass(frozen=True, slots=True)
class UnitChoice:
    """The chosen owning unit and why."""

    unit_code: str | None
    unit_name: str | None
    rule_kind: str  # override | industry | locality | fallback | unresolved
    area_code: str | None  # the area whose rule matched
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _area_codes(area: Any) -> AreaRef:
    return area if isinstance(area, AreaRef) else AreaRef(*codes_of(area))


def resolve_unit(catalogue: Catalogue, matter_code: str, area: Any) -> UnitChoice:
    """The unit that owns ``matter_code`` in ``area`` (an ``AreaRef``, a ``PlaceResult`` or a mapping).

    Raises ``KeyError`` for an unknown matter code. Never raises for an unknown or missing area: the
    result is then the district center (``fallback``) or ``unresolved`` when not even the district is known.
    """
    matter = catalogue.matters[matter_code]
    ref = _area_codes(area)
    street = ref.street_code
    if not street and ref.community_code:
        community = catalogue.areas.get(ref.community_code)
        street = community.parent_code if community else None
    district = ref.district_code or catalogue.district_of(street) or catalogue.district_of(ref.community_code)
    if district is not None and catalogue.areas.get(district) is None:
        district = None
    if street is not None and (street not in catalogue.areas or catalogue.district_of(street) != district):
        street = None

    def choice(rule_area: str, kind: str, reason: str) -> UnitChoice | None:
        rule = catalogue.rules.get((matter_code, rule_area), {}).get(kind)
        if rule is None:
            return None
        unit = catalogue.units[rule.unit_code]
        return UnitChoice(unit.code, unit.name, kind, rule_area, rule.note or reason)

    if street:
        for area_code in (street, catalogue.areas[street].handled_by):
            found = choice(area_code, "override", "特殊规定（按街道覆盖）") if area_code else None
            if found:
                return found
    if district is None:
        return UnitChoice(None, None, "unresolved", None, "所在区不明，无法确定承办单位")
    if matter.owner_rule == "industry":
        found = choice(district, "industry", "行业管理")
        if found:
            return found
    if street:
        handled = catalogue.areas[street].handled_by
        found = choice(street, "locality", "属地管理")
        if found:
            if handled:
                return UnitChoice(
                    found.unit_code,
                    found.unit_name,
                    "locality",
                    street,
                    f"属地管理（统计区划映射至 {handled}）",
                )
            return found
    found = choice(district, "locality", "属地管理：街道不明")
    if found:
        return found
    center = catalogue.units.get(f"{district}-12345")
    return UnitChoice(
        center.code if center else None,
        center.name if center else None,
        "fallback",
        district,
        "权责清单无对应规则，由区分中心人工派单",
    )
