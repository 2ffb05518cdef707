"""Intake from every source (多渠道受理, 两网融合): one way for a text channel to create a case.

The web form, Open311, the city platform's orders (市级派单) and the grid workers' reports all create
cases here, so they go through the same workflow (:func:`callcenter.services.cases.create_case`), the
same suggester (the :data:`~callcenter.ports.SUGGESTER` port: matter, place and owning unit from the
权责清单) and the same dispatch rules as a call:

* the suggestion is stored with the case (``suggestions.case_id``) so the agent who registers it sees
  the proposed matter and unit exactly as for a call;
* a matter or place the source did not give is filled from the suggestion;
* with ``intake.auto_dispatch`` on, a suggestion the classifier marks ``auto_dispatch`` (confidence at
  or over ``classifier.auto_dispatch_threshold``, a unit found) registers and dispatches the case at
  once, as the system — the same rule the agent console offers as one-click dispatch.

A suggester that is missing (no model trained) or fails never loses a case: the case is created
without a suggestion and waits for an agent.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import registry
from callcenter.config import Settings
from callcenter.db.models import Area, Case, Matter, Suggestion, Unit
from callcenter.domain.workflow import Actor, Command, Role
from callcenter.ports import SUGGESTER, PortUnavailable, SuggestFn
from callcenter.services import cases as case_svc

log = logging.getLogger(__name__)

_lock = threading.Lock()
_suggesters: dict[int, SuggestFn | None] = {}


def suggester_for(settings: Settings) -> SuggestFn | None:
    """The installed suggester (loaded once per settings object), or None when there is none."""
    key = id(settings)
    with _lock:
        if key not in _suggesters:
            try:
                _suggesters[key] = registry.provide(SUGGESTER, settings)
            except (PortUnavailable, FileNotFoundError, OSError) as exc:
                log.warning("intake: no suggester (%s); cases from text channels wait for an agent", exc)
                _suggesters[key] = None
        return _suggesters[key]


def _suggest(suggest_fn: SuggestFn | None, text: str, hint: dict[str, Any] | None) -> dict[str, Any] | None:
    if suggest_fn is None:
        return None
    try:
        return suggest_fn(text, hint)
    except Exception:  # a broken model must not lose the citizen's case
        log.exception("intake: suggester failed; the case is created without a suggestion")
        return None


def _code(area: dict[str, Any], level: str) -> str | None:
    item = area.get(level)
    return str(item["code"]) if isinstance(item, dict) and item.get("code") else None


def create_from_source(
    session: Session,
    new: case_svc.NewCase,
    actor: Actor,
    *,
    suggest_fn: SuggestFn | None,
    auto_dispatch: bool = False,
    hint: dict[str, Any] | None = None,
) -> tuple[Case, Suggestion | None]:
    """Create a case from a text source (``new.channel`` names it) in the caller's transaction."""
    result = _suggest(suggest_fn, new.description, hint)
    dispatch_unit = None
    if result is not None:
        matters = list(result.get("matters") or [])
        area = dict(result.get("area") or {})
        fill: dict[str, Any] = {}
        if new.matter_code is None and matters and session.get(Matter, str(matters[0]["code"])) is not None:
            fill["matter_code"] = str(matters[0]["code"])
        if new.street_code is None and new.community_code is None:
            for level, field in (
                ("district", "district_code"),
                ("street", "street_code"),
                ("community", "community_code"),
            ):
                code = _code(area, level)
                if code and session.get(Area, code) is not None:
                    fill[field] = code
        new = replace(new, **fill)
        unit = (result.get("unit") or {}).get("code")
        if (
            auto_dispatch
            and result.get("auto_dispatch")
            and unit
            and new.matter_code
            and session.scalar(select(Unit.id).where(Unit.code == unit)) is not None
        ):
            dispatch_unit = str(unit)
    if dispatch_unit is not None:
        case = case_svc.create_case(session, new, actor)
        case_svc.transition(
            session,
            case.number,
            Command("register", matter_code=case.matter_code),
            Actor(Role.SYSTEM),
        )
        case_svc.transition(
            session, case.number, Command("dispatch", unit_code=dispatch_unit), Actor(Role.SYSTEM)
        )
    else:
        case = case_svc.create_case(session, new, actor)
    suggestion = None
    if result is not None:
        unit = result.get("unit") or {}
        suggestion = Suggestion(
            case_id=case.id,
            model_version=str(result.get("model_version") or ""),
            text=new.description,
            matters=list(result.get("matters") or []),
            unit_code=unit.get("code"),
            area=dict(result.get("area") or {}),
            evidence=list(result.get("evidence") or []),
            confidence=float(result.get("confidence") or 0.0),
            auto_dispatch=bool(result.get("auto_dispatch")),
        )
        session.add(suggestion)
        session.flush()
    return case, suggestion
