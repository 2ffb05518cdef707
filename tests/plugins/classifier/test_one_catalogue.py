"""The seed and the classifier see the same catalogue, read by the one parser in the kernel.

The seed writes ``callcenter/data/catalogue`` into the database; the classifier routes and trains on
the same files through :func:`callcenter.catalogue.load_catalogue`. Both go through
:func:`callcenter.catalogue.read_catalogue`, and no other module of the product reads the files.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

import callcenter.catalogue
from callcenter.catalogue import DATA_FILES, Catalogue
from callcenter.db.models import Area, Matter, MatterCategory, ResponsibilityRule, Unit
from callcenter.db.session import session_scope
from callcenter.plugins.classifier import suggester, training
from callcenter.seed import seed_all

PRODUCT = Path(callcenter.catalogue.__file__).resolve().parents[1]


def test_seed_and_classifier_see_the_same_catalogue(sqlite_url: str) -> None:
    # what Suggester.load() and train() use when given no catalogue: the kernel's cached loader
    assert suggester.load_catalogue is training.load_catalogue is callcenter.catalogue.load_catalogue
    classifier: Catalogue = suggester.load_catalogue()
    with session_scope(sqlite_url) as s:
        report = seed_all(s)
    assert (report.categories, report.matters, report.units, report.areas, report.rules) == (
        len(classifier.categories),
        len(classifier.matters),
        len(classifier.units),
        len(classifier.areas),
        classifier.rule_count,
    )
    with session_scope(sqlite_url) as s:
        assert {c.code: c.name for c in s.scalars(select(MatterCategory))} == {
            c.code: c.name for c in classifier.categories.values()
        }
        assert {
            m.code: (
                m.category_code,
                m.name,
                m.description,
                tuple(m.keywords),
                m.owner_rule,
                m.industry or "",
                m.accept_hours,
                m.handle_days,
                m.source,
            )
            for m in s.scalars(select(Matter))
        } == {
            m.code: (
                m.category_code,
                m.name,
                m.description,
                m.keywords,
                m.owner_rule,
                m.industry,
                m.accept_hours,
                m.handle_days,
                m.source,
            )
            for m in classifier.matters.values()
        }
        assert {
            u.code: (u.name, u.kind, u.parent_code or "", u.area_code or "", u.industry or "", u.phone or "")
            for u in s.scalars(select(Unit))
        } == {
            u.code: (u.name, u.kind, u.parent_code, u.area_code, u.industry, u.phone)
            for u in classifier.units.values()
        }
        db_areas = {
            a.code: (a.name, a.level, a.parent_code or "", a.handled_by or "")
            for a in s.scalars(select(Area))
        }
        assert db_areas == {
            a.code: (a.name, a.level, a.parent_code, a.handled_by) for a in classifier.areas.values()
        }
        db_rules = sorted(
            (r.matter_code, r.area_code, r.rule_kind, r.unit_code, r.note)
            for r in s.scalars(select(ResponsibilityRule))
        )
    assert db_rules == sorted(
        (r.matter_code, r.area_code, r.rule_kind, r.unit_code, r.note)
        for by_kind in classifier.rules.values()
        for r in by_kind.values()
    )


def test_no_second_parser_of_the_catalogue_files() -> None:
    """Only callcenter/catalogue (the parser and the builder that writes the files) names them."""
    names = [Path(n).name for n in DATA_FILES]
    readers = sorted(
        str(path.relative_to(PRODUCT))
        for path in PRODUCT.rglob("*.py")
        if "catalogue" not in path.relative_to(PRODUCT).parts[:1]
        and any(name in path.read_text(encoding="utf-8") for name in names)
    )
    assert readers == []
