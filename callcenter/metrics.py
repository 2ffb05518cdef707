"""Prometheus metrics (运行指标) at ``/metrics``.

Two kinds:

* figures read from the database at scrape time (cases by status, overdue cases, calls by
  disposition, callbacks by status, mean suggestion confidence) — the same in every API worker,
  because the database is the source of truth;
* per-process HTTP request counts and latency, recorded by a middleware;
* per-process counters of :mod:`callcenter.observability` that the API also moves (case
  transitions, callback outcomes — :data:`~callcenter.observability.API_SHARED`).

The other processes (FastAGI, AMI bridge, speech, worker) serve their own metrics on their own
ports; see ``docs/observability.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from callcenter.db.models import Call, Callback, Case, Suggestion
from callcenter.db.session import get_sessionmaker
from callcenter.observability import API_SHARED, register_all
from callcenter.services.cases import overdue_condition


class DatabaseCollector(Collector):
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        with get_sessionmaker(self.database_url)() as session:
            cases = GaugeMetricFamily("cc_cases", "Cases by status (工单数)", labels=["status"])
            for status, n in session.execute(select(Case.status, func.count()).group_by(Case.status)):
                cases.add_metric([status], n)
            yield cases
            overdue = session.scalar(select(func.count()).select_from(Case).where(overdue_condition(now)))
            yield GaugeMetricFamily("cc_cases_overdue", "Overdue cases (超期工单)", value=overdue or 0)
            calls = GaugeMetricFamily("cc_calls", "Calls by disposition", labels=["disposition"])
            for disposition, n in session.execute(
                select(Call.disposition, func.count()).group_by(Call.disposition)
            ):
                calls.add_metric([disposition or "in_progress"], n)
            yield calls
            wait = session.scalar(select(func.avg(Call.wait_seconds)).where(Call.wait_seconds.is_not(None)))
            yield GaugeMetricFamily(
                "cc_call_queue_wait_seconds_mean", "Mean queue wait of calls", value=wait or 0.0
            )
            callbacks = GaugeMetricFamily(
                "cc_callbacks", "Callbacks by kind and status", labels=["kind", "status"]
            )
            for kind, status, n in session.execute(
                select(Callback.kind, Callback.status, func.count()).group_by(Callback.kind, Callback.status)
            ):
                callbacks.add_metric([kind, status], n)
            yield callbacks
            conf = session.scalar(select(func.avg(Suggestion.confidence)))
            yield GaugeMetricFamily(
                "cc_suggestion_confidence_mean", "Mean confidence of the suggester", value=conf or 0.0
            )


class Metrics:
    """The registry of one API process."""

    def __init__(self, database_url: str) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(DatabaseCollector(database_url))
        register_all(self.registry, API_SHARED)
        self.requests = Counter(
            "cc_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "cc_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
