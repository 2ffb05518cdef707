"""``callcenter seed`` and the responsibility rules edited in the admin screen (SQLite and PostgreSQL):
the seed follows the catalogue file for the catalogue's rules and leaves the admin's created, edited and
deleted rules as they are."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from callcenter.db.models import ResponsibilityRule
from callcenter.db.session import session_scope
from callcenter.seed import seed_all
from callcenter.services.admin import Who, delete_rule, save_rule
from tests.kernel.conftest import CATALOGUE

NOBODY = Who(None)


def _rules(url: str) -> dict[tuple[str, str, str], tuple[str, str, str, bool]]:
    """(matter, area, kind) → (unit, note, source, active) of every row."""
    with session_scope(url) as s:
        return {
            (r.matter_code, r.area_code, r.rule_kind): (r.unit_code, r.note, r.source, r.active)
            for r in s.scalars(select(ResponsibilityRule))
        }


def _rule_id(url: str, matter: str, area: str, kind: str) -> int:
    with session_scope(url) as s:
        rid = s.scalar(
            select(ResponsibilityRule.id).where(
                ResponsibilityRule.matter_code == matter,
                ResponsibilityRule.area_code == area,
                ResponsibilityRule.rule_kind == kind,
            )
        )
        assert rid is not None
        return int(rid)


def test_seed_keeps_admin_rules_and_follows_the_catalogue_file(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, data)
    with session_scope(db_url) as s:
        assert seed_all(s, data).rules == 4
    first = _rules(db_url)
    assert {v[2] for v in first.values()} == {"catalogue"} and all(v[3] for v in first.values())

    # the admin edits one catalogue rule, deletes another and adds a rule of his own
    edited = _rule_id(db_url, "0601001", "110101001", "locality")
    deleted = _rule_id(db_url, "0601002", "110101001", "locality")
    with session_scope(db_url) as s:
        save_rule(
            s,
            NOBODY,
            rule_id=edited,
            matter_code="0601001",
            area_code="110101001",
            unit_code="B110101-CG",
            rule_kind="locality",
            note="改由城管委承办",
        )
        delete_rule(s, NOBODY, deleted)
        save_rule(
            s,
            NOBODY,
            matter_code="1101001",
            area_code="110101001",
            unit_code="S110101001",
            rule_kind="override",
            note="街道先行处置",
        )

    # the catalogue file changes too: a rule changed, one removed, one added, one at the admin's place
    (data / "responsibility_rules.csv").write_text(
        "matter_code,area_code,unit_code,rule_kind,note\n"
        "0601001,110101001,S110101001,locality,属地\n"  # the admin's edit wins
        "0601001,110101002,S110101001,locality,合并\n"  # changed in the file
        "0601002,110101001,S110101001,locality,属地\n"  # deleted by the admin: stays deleted
        "0601002,110101002,S110101002,locality,新增\n"  # new in the file
        "1101001,110101001,S110101002,override,\n",  # the admin's own rule wins
        # 1101001 / 110101 / industry: removed from the file
        encoding="utf-8",
    )
    for _ in range(2):  # idempotent
        with session_scope(db_url) as s:
            assert seed_all(s, data).rules == 5
        after = _rules(db_url)
        assert after == {
            ("0601001", "110101001", "locality"): ("B110101-CG", "改由城管委承办", "admin", True),
            ("0601001", "110101002", "locality"): ("S110101001", "合并", "catalogue", True),
            ("0601002", "110101001", "locality"): ("S110101001", "属地", "admin", False),
            ("0601002", "110101002", "locality"): ("S110101002", "新增", "catalogue", True),
            ("1101001", "110101001", "override"): ("S110101001", "街道先行处置", "admin", True),
        }

    # re-creating the deleted rule revives its row; moving a rule leaves a tombstone at the old place
    moved = _rule_id(db_url, "0601002", "110101002", "locality")
    with session_scope(db_url) as s:
        revived = save_rule(
            s,
            NOBODY,
            matter_code="0601002",
            area_code="110101001",
            unit_code="S110101002",
            rule_kind="locality",
        )
        assert revived.id == deleted and revived.active
        save_rule(
            s,
            NOBODY,
            rule_id=moved,
            matter_code="0601002",
            area_code="110101002",
            unit_code="S110101002",
            rule_kind="override",
            note="",
        )
    with session_scope(db_url) as s:
        seed_all(s, data)
    after = _rules(db_url)
    assert after[("0601002", "110101001", "locality")] == ("S110101002", "", "admin", True)
    assert after[("0601002", "110101002", "override")] == ("S110101002", "", "admin", True)
    assert after[("0601002", "110101002", "locality")] == ("S110101002", "新增", "admin", False)
