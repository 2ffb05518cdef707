"""Plugins (能力插件): the manifest every capability declares, and the one place they are loaded.

A capability is a package under :mod:`callcenter.plugins` with a ``plugin.py`` module that exposes
``plugin = Plugin(...)``, registered once as an entry point in ``pyproject.toml``::

    [project.entry-points."callcenter.plugins"]
    cases = "callcenter.plugins.cases.plugin:plugin"

The manifest says what the capability adds — CLI commands, API routers, worker loops, long-running
services for ``callcenter up`` and the ports it provides (:mod:`callcenter.ports`). The ``callcenter``
command, the API app, the worker and ``up`` iterate over :func:`plugins`; the kernel never imports a
plugin, and plugins reach each other only through ports (:func:`provide` / :func:`collect`).

Manifests are cheap to import: each hook imports its capability's modules when it is called, so
``callcenter --help`` does not load speech models or scikit-learn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

from callcenter.ports import Port, PortUnavailable

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter, FastAPI

    from callcenter.config import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "callcenter.plugins"

T = TypeVar("T")

#: A worker loop: runs until the event is set (restarted by the worker if it raises).
Loop = Callable[[threading.Event], None]
#: Builds a loop from the settings, or returns None when the loop has nothing to do (disabled).
LoopFactory = Callable[["Settings"], Loop | None]


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running process that ``callcenter up`` starts as ``callcenter NAME ARGS…``.

    ``order`` sorts the start sequence (lower first: the API before the processes that report to it).
    """

    name: str
    args: tuple[str, ...] = ()
    order: int = 50


@dataclass(frozen=True)
class Plugin:
    """What one capability adds to the platform (its manifest)."""

    name: str
    summary: str
    #: Adds the capability's subcommands to the ``callcenter`` Typer app.
    cli: Callable[[typer.Typer], None] | None = None
    #: The capability's API routers; each router carries its own authentication dependencies.
    routers: Callable[[Settings], Iterable[APIRouter]] | None = None
    #: Anything else the API app needs from the capability (static files, start-up hooks).
    mount: Callable[[FastAPI, Settings], None] | None = None
    #: Background loops run by ``callcenter worker`` (name → factory); names are unique platform-wide.
    loops: Mapping[str, LoopFactory] = field(default_factory=dict)
    #: Long-running processes for ``callcenter up``.
    services: tuple[ServiceSpec, ...] = ()
    #: Ports this capability provides (port → factory taking the settings).
    provides: Mapping[Port[Any], Callable[[Settings], Any]] = field(default_factory=dict)


class PluginError(Exception):
    """A plugin could not be loaded or two plugins claim the same name."""


@lru_cache(maxsize=1)
def plugins() -> tuple[Plugin, ...]:
    """Every installed plugin, in entry-point name order (cached for the process)."""
    found: list[Plugin] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        obj = ep.load()  # a broken plugin fails loudly: its import error is the message
        if not isinstance(obj, Plugin):
            raise PluginError(f"entry point {ep.name} = {ep.value} is not a callcenter.registry.Plugin")
        found.append(obj)
    names = [p.name for p in found]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise PluginError(f"several plugins are named {', '.join(sorted(dupes))}")
    loops = [name for p in found for name in p.loops]
    dupes = {n for n in loops if loops.count(n) > 1}
    if dupes:
        raise PluginError(f"several plugins declare the worker loop {', '.join(sorted(dupes))}")
    return tuple(found)


def plugin_names() -> list[str]:
    return [p.name for p in plugins()]


def worker_loops() -> dict[str, LoopFactory]:
    """Every plugin's worker loops (name → factory)."""
    return {name: factory for p in plugins() for name, factory in p.loops.items()}


def services() -> list[ServiceSpec]:
    """The long-running services of every plugin, in start order."""
    return sorted((s for p in plugins() for s in p.services), key=lambda s: (s.order, s.name))


def providers(port: Port[T]) -> list[tuple[str, Callable[[Settings], T]]]:
    """``(plugin name, factory)`` of every plugin that provides ``port``."""
    return [(p.name, p.provides[port]) for p in plugins() if port in p.provides]


def provide(port: Port[T], settings: Settings) -> T:
    """The implementation of a single-provider port (the first plugin that provides it).

    Raises :class:`~callcenter.ports.PortUnavailable` when no installed plugin provides it.
    """
    found = providers(port)
    if not found:
        raise PortUnavailable(f"no installed plugin provides the {port.name} port ({port.summary})")
    if len(found) > 1:
        log.debug("port %s: several providers, using %s", port.name, found[0][0])
    return found[0][1](settings)


def collect(port: Port[T], settings: Settings) -> list[T]:
    """The implementations of a many-provider port from every plugin that provides it."""
    return [factory(settings) for _, factory in providers(port)]
