"""Performance indicators of handling units (考核指标, 三率两度) — pure functions, no I/O.

Each case is reduced to a :class:`KpiCase` (the columns the indicators need). Cases flagged
``kpi_excluded`` (特例剔除, e.g. unreasonable demands, duplicates, force majeure, approved by a supervisor)
are removed from **every** numerator and denominator. Consultations closed on the call (直接办结) were
never dispatched and count only for 解决率 / 满意率 of the center, not for any unit.

Formulas (for one group of cases: one unit, or one street, in one period):

* **响应率 response rate** = cases signed for (签收) by their accept deadline ÷ cases dispatched.
  A case counts as responded when ``accepted_at <= accept_due_at``; a dispatched case not yet signed
  for whose accept deadline has not passed at ``now`` is *pending* and left out of both.
* **按期办结率 on-time completion rate** = cases whose unit answered (反馈, ``feedback_at``) by the
  handling deadline ``due_at`` (after approved extensions) ÷ cases that are due (``due_at <= now``)
  or already answered. Cases still within their deadline and not answered are pending.
* **解决率 resolution rate** = answers "resolved" (``resolved is True``) ÷ answers on resolution
  (``resolved`` not None: return visit or the unit's resolved flag after closing), over every closure
  (see below).
* **满意率 satisfaction rate** = (满意 + ``basic_weight`` × 基本满意) ÷ satisfaction answers, over every
  closure. ``basic_weight`` defaults to 1.0 (基本满意 counts as satisfied); set it to e.g. 0.8 to weight
  it down.

**Every closure's evaluation counts.** A case reopened (重办) after its return visit is handled and
evaluated again, but the earlier answer is not wiped from the KPIs: an unsatisfied citizen whose case is
reopened still counts against the unit that handled that closure, and the new evaluation counts as well
(as 12345 centers count: each 办结 is evaluated, and 重办 is a second chance for the citizen, not for the
unit's figures). The earlier answers are ``KpiCase.past_evaluations`` (from the audit trail) and are
attributed to the unit recorded on them; ``evaluations(case)`` lists all answers of a case.
* **综合得分 composite score** (for rankings) = Σ weight × rate over the rates that have a
  denominator, renormalised by the weights used; default weights 响应率 10 %, 解决率 45 %,
  满意率 45 %, 按期办结率 0 % (the Beijing 接诉即办 assessment weights), configurable.

A rate with a zero denominator is ``None`` (no data), never 0 or 100 %.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

Period = Literal["day", "month"]
GroupBy = Literal["unit", "street"]


@dataclass(frozen=True)
class KpiCase:
    """The fields of one case (工单) the indicators need."""

    number: str
    created_at: datetime
    status: str = "received"
    #: 来源 (callcenter.domain.sources.Source): phone, web, open311, city_dispatch, grid, …
    channel: str = "phone"
    matter_code: str | None = None
    unit_code: str | None = None
    district_code: str | None = None
    street_code: str | None = None
    community_code: str | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    accept_due_at: datetime | None = None
    due_at: datetime | None = None
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    resolved: bool | None = None
    satisfaction: str | None = None
    kpi_excluded: bool = False
    #: return-visit answers of earlier closures that were reopened (重办) afterwards, oldest first
    past_evaluations: tuple[Evaluation, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """One closure's answer on resolution / satisfaction (回访评价) and the unit that handled it."""

    satisfaction: str | None
    resolved: bool | None
    unit_code: str | None = None


SATISFACTION_ANSWERS = ("satisfied", "basic", "unsatisfied")


def evaluations(case: KpiCase) -> list[Evaluation]:
    """All answers of a case: those of reopened closures, then the current one (if answered)."""
    out = list(case.past_evaluations)
    if case.satisfaction is not None or case.resolved is not None:
        out.append(Evaluation(case.satisfaction, case.resolved, case.unit_code))
    return out


@dataclass(frozen=True)
class Rate:
    """A ratio with its counts; ``value`` is None when there is no denominator."""

    numerator: float
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    def as_dict(self) -> dict[str, float | int | None]:
        v = self.value
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": None if v is None else round(v, 4),
        }


@dataclass(frozen=True)
class Weights:
    """Composite score weights and the weight of 基本满意 in 满意率 (configuration)."""

    response: float = 0.10
    on_time: float = 0.0
    resolution: float = 0.45
    satisfaction: float = 0.45
    basic_weight: float = 1.0


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Scorecard:
    """三率两度 of one group: the four rates, the composite score and the counts."""

    key: str
    total: int
    excluded: int
    response: Rate
    on_time: Rate
    resolution: Rate
    satisfaction: Rate
    score: float | None
    rank: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "total": self.total,
            "excluded": self.excluded,
            "response": self.response.as_dict(),
            "on_time": self.on_time.as_dict(),
            "resolution": self.resolution.as_dict(),
            "satisfaction": self.satisfaction.as_dict(),
            "score": None if self.score is None else round(self.score, 4),
            "rank": self.rank,
        }


def included(cases: Iterable[KpiCase]) -> list[KpiCase]:
    """特例剔除: the cases that count (not excluded)."""
    return [c for c in cases if not c.kpi_excluded]


def response_rate(cases: Iterable[KpiCase], now: datetime) -> Rate:
    """响应率: signed for by the accept deadline ÷ dispatched (pending ones left out)."""
    num = den = 0
    for c in included(cases):
        if c.dispatched_at is None or c.accept_due_at is None:
            continue
        if c.accepted_at is not None:
            den += 1
            num += c.accepted_at <= c.accept_due_at
        elif now > c.accept_due_at:
            den += 1  # late and still not signed for
    return Rate(num, den)


def on_time_rate(cases: Iterable[KpiCase], now: datetime) -> Rate:
    """按期办结率: answered (反馈) by ``due_at`` ÷ answered or due cases."""
    num = den = 0
    for c in included(cases):
        if c.dispatched_at is None or c.due_at is None:
            continue
        answered = c.feedback_at
        if answered is not None:
            den += 1
            num += answered <= c.due_at
        elif now > c.due_at:
            den += 1
    return Rate(num, den)


def _answers(cases: Iterable[KpiCase]) -> list[Evaluation]:
    return [e for c in included(cases) for e in evaluations(c)]


def resolution_rate(cases: Iterable[KpiCase], answers: Iterable[Evaluation] | None = None) -> Rate:
    """解决率: "resolved" answers ÷ answers on resolution, every closure of the cases counted.

    ``answers``: the evaluations to count instead of those of ``cases`` (rankings attribute the answers
    of earlier closures to the unit that handled them)."""
    rated = [e for e in (_answers(cases) if answers is None else answers) if e.resolved is not None]
    return Rate(sum(1 for e in rated if e.resolved), len(rated))


def satisfaction_rate(
    cases: Iterable[KpiCase], basic_weight: float = 1.0, answers: Iterable[Evaluation] | None = None
) -> Rate:
    """满意率: (满意 + basic_weight × 基本满意) ÷ satisfaction answers, every closure of the cases counted."""
    rated = [
        e for e in (_answers(cases) if answers is None else answers) if e.satisfaction in SATISFACTION_ANSWERS
    ]
    score = sum(
        1.0 if e.satisfaction == "satisfied" else basic_weight if e.satisfaction == "basic" else 0.0
        for e in rated
    )
    return Rate(score, len(rated))


def composite_score(rates: dict[str, Rate], weights: Weights = DEFAULT_WEIGHTS) -> float | None:
    """Weighted mean of the rates that have data (weights renormalised); None when none has."""
    total_w = 0.0
    acc = 0.0
    for name, rate in rates.items():
        w = float(getattr(weights, name))
        v = rate.value
        if w <= 0 or v is None:
            continue
        acc += w * v
        total_w += w
    return None if total_w == 0 else acc / total_w


def scorecard(
    key: str,
    cases: Sequence[KpiCase],
    now: datetime,
    weights: Weights = DEFAULT_WEIGHTS,
    answers: Sequence[Evaluation] | None = None,
) -> Scorecard:
    """All indicators of one group of cases (``answers``: see ``resolution_rate``)."""
    rates = {
        "response": response_rate(cases, now),
        "on_time": on_time_rate(cases, now),
        "resolution": resolution_rate(cases, answers),
        "satisfaction": satisfaction_rate(cases, weights.basic_weight, answers),
    }
    return Scorecard(
        key=key,
        total=len(cases),
        excluded=sum(1 for c in cases if c.kpi_excluded),
        response=rates["response"],
        on_time=rates["on_time"],
        resolution=rates["resolution"],
        satisfaction=rates["satisfaction"],
        score=composite_score(rates, weights),
    )


def group_key(case: KpiCase, by: GroupBy) -> str | None:
    """The unit (承办单位) or the street (街道乡镇) a case is counted for."""
    return case.unit_code if by == "unit" else case.street_code


def period_key(moment: datetime, period: Period, tz: tzinfo) -> str:
    """``2026-11-22`` (day) or ``2026-11`` (month) in the hotline's time zone."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


def rank(cards: Iterable[Scorecard]) -> list[Scorecard]:
    """Rank by composite score (higher first), then more cases, then key; no score → unranked, last.

    Equal scores share a rank (competition ranking 1, 2, 2, 4).
    """
    cards = list(cards)
    scored = sorted(
        (c for c in cards if c.score is not None), key=lambda c: (-(c.score or 0.0), -c.total, c.key)
    )
    unscored = sorted((c for c in cards if c.score is None), key=lambda c: c.key)
    out: list[Scorecard] = []
    prev: float | None = None
    prev_rank = 0
    for i, c in enumerate(scored, start=1):
        r = prev_rank if prev is not None and abs((c.score or 0.0) - prev) < 1e-12 else i
        out.append(_with_rank(c, r))
        prev, prev_rank = c.score, r
    out.extend(unscored)
    return out


def _with_rank(card: Scorecard, r: int) -> Scorecard:
    return replace(card, rank=r)


def rankings(
    cases: Iterable[KpiCase],
    *,
    by: GroupBy,
    period: Period,
    now: datetime,
    tz: tzinfo,
    weights: Weights = DEFAULT_WEIGHTS,
    moment: Callable[[KpiCase], datetime | None] | None = None,
) -> dict[str, list[Scorecard]]:
    """Daily or monthly rankings (日排名 / 月排名): period key → ranked scorecards of units or streets.

    A case belongs to the period of its dispatch (派遣) time, or its creation time when it was never
    dispatched (``moment`` overrides). Cases without a unit / street are left out of that grouping.
    By unit, the answers of a reopened case's earlier closures count for the unit recorded on them
    (which may no longer be the case's unit), in the case's period.
    """
    when = moment or (lambda c: c.dispatched_at or c.created_at)
    groups: dict[str, dict[str, list[KpiCase]]] = defaultdict(lambda: defaultdict(list))
    answers: dict[str, dict[str, list[Evaluation]]] = defaultdict(lambda: defaultdict(list))
    for c in cases:
        key = group_key(c, by)
        at = when(c)
        if at is None:
            continue
        p = period_key(at, period, tz)
        if key is not None:
            groups[p][key].append(c)
        if c.kpi_excluded:
            continue
        for e in evaluations(c):
            owner = (e.unit_code or key) if by == "unit" else key
            if owner is not None:
                answers[p][owner].append(e)
    for p, by_key in answers.items():
        for k in by_key:
            groups[p].setdefault(k, [])  # a unit rated only on an earlier closure of a reopened case
    return {
        p: rank(
            scorecard(k, members, now, weights, answers[p].get(k, []))
            for k, members in sorted(by_key.items())
        )
        for p, by_key in sorted(groups.items())
    }


@dataclass(frozen=True)
class Frequency:
    """A high-frequency item (高频事项 / 高频区域) with its count and share of all cases."""

    key: str
    count: int
    share: float


def high_frequency(
    cases: Iterable[KpiCase], key: Callable[[KpiCase], str | None], top: int = 10
) -> list[Frequency]:
    """The ``top`` most frequent keys (matters, streets, communities) with counts and shares.

    Excluded cases still count here: frequency is about what citizens report, not about units.
    Ties are broken by key so the order is stable.
    """
    keys = [key(c) for c in cases]
    counts = Counter(k for k in keys if k)
    total = sum(counts.values())
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [Frequency(k, n, n / total if total else 0.0) for k, n in items]


def matter_of(case: KpiCase) -> str | None:
    return case.matter_code


def street_of(case: KpiCase) -> str | None:
    return case.street_code


def community_of(case: KpiCase) -> str | None:
    return case.community_code


@dataclass(frozen=True)
class TrendPoint:
    day: str
    count: int
    by_key: dict[str, int] = field(default_factory=dict)


def daily_trend(
    cases: Iterable[KpiCase],
    start: date,
    end: date,
    tz: tzinfo,
    *,
    series_key: Callable[[KpiCase], str | None] | None = None,
    series: Sequence[str] = (),
) -> list[TrendPoint]:
    """Cases created per local day from ``start`` to ``end`` inclusive (every day present, 0 if none).

    With ``series_key`` and ``series`` each point also counts the cases of each listed key (e.g. the
    top matters), for a stacked trend chart.
    """
    if end < start:
        raise ValueError("end is before start")
    days: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    d = start
    while d <= end:
        days[d.isoformat()] = Counter()
        d += timedelta(days=1)
    wanted = set(series)
    for c in cases:
        day = c.created_at.astimezone(tz).date().isoformat()
        if day not in days:
            continue
        totals[day] += 1
        if series_key is not None:
            k = series_key(c)
            if k in wanted:
                days[day][k] += 1
    return [TrendPoint(day, totals[day], {k: cnt[k] for k in series}) for day, cnt in days.items()]


def overdue_kind(case: KpiCase, now: datetime) -> str | None:
    """``accept`` (签收超时) / ``handle`` (办理超期) / None: the workflow's 督办 rule."""
    from callcenter.domain.workflow import CaseState
    from callcenter.domain.workflow import overdue_kind as workflow_overdue

    state = CaseState(status=case.status, accept_due_at=case.accept_due_at, due_at=case.due_at)
    return workflow_overdue(state, now)
