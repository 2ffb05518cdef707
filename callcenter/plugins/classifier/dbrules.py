"""The responsibility list (权责清单) as the database has it, for routing: the admin screen edits the table
``responsibility_rules``, so the owning unit a suggestion names follows an edit at once.

:class:`DatabaseRules` keeps one rules map per process and checks, on every use, a cheap fingerprint of
the table: its largest id, its last ``updated_at`` and the last ``admin.rule.*`` / ``admin.unit.*`` /
``seed.rules`` audit row — three index look-ups in one query (well under a millisecond). An edit made by
another API worker or by ``callcenter seed`` is thus seen by the next suggestion, without a message
between processes. No row count is needed: a deleted rule stays as an inactive row, and the seed's own
deletions write their audit row. Only when the fingerprint changed are the active rules (and the units,
for their names and kinds) read again — one query of about 13 000 rows, about 0.1 s.

The routing itself stays pure (:func:`callcenter.plugins.classifier.routing.resolve_unit` over a
catalogue with the database's rules, :func:`callcenter.catalogue.with_rules`). A database that has no
rule rows at all (never seeded) or that cannot be read routes with the catalogue files' rules, or the
last rules read, and logs why: a suggestion never fails because of the rules.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from callcenter import audit
from callcenter.catalogue import Catalogue, Rule, with_rules
from callcenter.catalogue import Unit as CatalogueUnit

log = logging.getLogger(__name__)

#: Audit actions after which the rules map is read again (an edit of a unit changes its name or kind).
WATCHED_ACTIONS = (
    "admin.rule.created",
    "admin.rule.updated",
    "admin.rule.deleted",
    "admin.unit.created",
    "admin.unit.updated",
    audit.SEED_RULES,
)
#: Seconds between two warnings about a database that cannot be read.
WARN_INTERVAL_S = 60.0


@lru_cache(maxsize=8)
def read_engine(database_url: str | None) -> Engine:
    """The engine the rules are read with: the app's, except for SQLite, whose app engine begins every
    transaction with ``BEGIN IMMEDIATE`` (the write lock) — a suggestion is often made inside a request
    that holds it (the web form, Open311), so the rules are read by an engine of their own that only
    reads (WAL: readers and the writer do not wait for each other)."""
    from callcenter.db.session import get_engine

    engine = get_engine(database_url)
    if engine.dialect.name != "sqlite":
        return engine
    return create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 30})


def fingerprint(session: Session) -> tuple[Any, ...]:
    """What changes whenever a rule is added, edited, deleted or re-seeded, or a unit is edited."""
    from callcenter.db.models import AuditEntry, ResponsibilityRule

    # one scalar subquery each: a lone max() is an index look-up (several in one select scan the table)
    row = session.execute(
        select(
            select(func.max(ResponsibilityRule.id)).scalar_subquery(),
            select(func.max(ResponsibilityRule.updated_at)).scalar_subquery(),
            select(func.max(AuditEntry.id)).where(AuditEntry.action.in_(WATCHED_ACTIONS)).scalar_subquery(),
        )
    ).one()
    return tuple(row)


def read_rules(session: Session) -> tuple[list[Rule], list[CatalogueUnit]]:
    """The active rules and every unit of the database, as catalogue objects."""
    from callcenter.db.models import ResponsibilityRule, Unit

    r = ResponsibilityRule
    rules = [
        Rule(m, a, u, k, n or "")
        for m, a, u, k, n in session.execute(
            select(r.matter_code, r.area_code, r.unit_code, r.rule_kind, r.note)
            .where(r.active.is_(True))
            .order_by(r.id)
        )
    ]
    units = [
        CatalogueUnit(c, n, k, p or "", a or "", i or "", ph or "")
        for c, n, k, p, a, i, ph in session.execute(
            select(
                Unit.code, Unit.name, Unit.kind, Unit.parent_code, Unit.area_code, Unit.industry, Unit.phone
            )
        )
    ]
    return rules, units


class DatabaseRules:
    """The routing catalogue of one database: ``routing(catalogue)`` is ``catalogue`` with the
    database's current rules and units (see the module docstring); thread-safe."""

    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._rules: tuple[list[Rule], list[CatalogueUnit]] | None = None
        self._routing: dict[int, tuple[Catalogue, Catalogue]] = {}  # id(base) -> (base, with db rules)
        self._warned = 0.0
        self.reads = 0  # how often the rules were read (tests, metrics)

    def routing(self, catalogue: Catalogue) -> Catalogue:
        """``catalogue`` with the database's rules; ``catalogue`` itself when there are none to use."""
        try:
            rules = self._current()
        except Exception as exc:  # keep routing: last rules read, or the files' rules
            now = time.monotonic()
            if now - self._warned >= WARN_INTERVAL_S:
                self._warned = now
                log.warning(
                    "responsibility rules not read from the database (%s); routing with %s",
                    exc,
                    "the last rules read" if self._rules else "the catalogue files' rules",
                )
            rules = self._rules
        if rules is None:
            return catalogue
        with self._lock:
            cached = self._routing.get(id(catalogue))
            if cached is not None and cached[0] is catalogue:
                return cached[1]
        routed = with_rules(catalogue, *rules)
        with self._lock:
            if self._rules is rules:
                self._routing = {id(catalogue): (catalogue, routed)}
        return routed

    def _current(self) -> tuple[list[Rule], list[CatalogueUnit]] | None:
        with Session(read_engine(self.database_url)) as session:
            stamp = fingerprint(session)
            with self._lock:
                if stamp == self._stamp:
                    return self._rules
            if stamp[0] is None:  # no rule rows at all: a database never seeded with a responsibility list
                rules = None
            else:
                rules = read_rules(session)
                self.reads += 1
        with self._lock:
            if rules is not self._rules:
                self._routing = {}
            self._stamp, self._rules = stamp, rules
        return rules


_by_url: dict[str | None, DatabaseRules] = {}
_by_url_lock = threading.Lock()


def for_database(database_url: str | None) -> DatabaseRules:
    """The process's one :class:`DatabaseRules` of ``database_url`` (None: the configured database)."""
    with _by_url_lock:
        rules = _by_url.get(database_url)
        if rules is None:
            rules = _by_url[database_url] = DatabaseRules(database_url)
        return rules
