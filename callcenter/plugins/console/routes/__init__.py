"""HTTP routes of the console, one module per resource, all under ``/api/console``:

* :mod:`.pages` — the pages and static files under ``/console/`` and the hub's lifecycle (``mount``);
* :mod:`.config` — the console's configuration for the logged-in user, workflow labels;
* :mod:`.events` — the live domain events (Server-Sent Events);
* :mod:`.calls` — screen-pop, one call's live transcript, hang up and transfer;
* :mod:`.agent` — queue join / leave and pause;
* :mod:`.supervisor` — ChanSpy, wallboard, KPIs, overdue list;
* :mod:`.callbacks` — scheduled callbacks and return visits;
* :mod:`.cases` — the actions a user may take on a case;
* :mod:`.desk` — names by code, the matter picker's index (pinyin), a case's detail with its actors.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> tuple[APIRouter, ...]:
    """Every router of the console (imported when the API app is built)."""
    from . import agent, callbacks, calls, cases, config, desk, events, supervisor

    return (
        config.router,
        events.router,
        calls.router,
        agent.router,
        supervisor.router,
        callbacks.router,
        cases.router,
        desk.router,
    )
