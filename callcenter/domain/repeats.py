"""Repeat complaints (屡诉 / 屡治屡返) — pure detection over case summaries, no I/O.

Three signals that one problem is coming back (12345 centers track them as 重复诉求 and 屡治屡返):

* **Same caller, same matter** (屡诉): one phone number reports the same matter again within
  ``window_days`` of its previous case — :func:`repeat_callers`.
* **Same place, same matter after closure** (屡治屡返): a case of a matter at a place (the address,
  else the community) is reported again after an earlier case of that matter at that
  place was closed — the problem came back after it was "solved" — :func:`recurring_places`.
* **Near-duplicate texts across callers** (多人反映同一事件): descriptions of one matter in one street within
  ``window_hours`` whose character-bigram similarity (Jaccard) reaches ``threshold`` — several people
  reporting one event — :func:`text_clusters` (blocked by street and matter so it stays linear-ish).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RepeatCase:
    """The fields of a case the detection needs."""

    number: str
    created_at: datetime
    matter_code: str | None = None
    caller_phone: str | None = None
    street_code: str | None = None
    community_code: str | None = None
    address: str = ""
    description: str = ""
    closed_at: datetime | None = None


@dataclass(frozen=True)
class RepeatGroup:
    """Cases of one repeat signal, oldest first.

    ``kind``: ``caller`` (屡诉), ``place`` (屡治屡返) or ``text`` (多人反映); ``key`` is what joins them
    (the phone, the place, or the first case's number); ``returns`` counts cases reported after an
    earlier one of the group was closed.
    """

    kind: str
    key: str
    matter_code: str | None
    numbers: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    returns: int = 0

    @property
    def count(self) -> int:
        return len(self.numbers)


_SPACE = re.compile(r"[\s，。、；：！？,.;:!?（）()【】\[\]“”\"']+")


def place_of(case: RepeatCase) -> str | None:
    """The place of a case: the normalised address (within its street), else the community.

    A street alone is too coarse to say "the same problem came back" (it has thousands of households).
    """
    addr = _SPACE.sub("", case.address or "")
    if addr:
        return f"{case.street_code or ''}|{addr}"
    return case.community_code


def repeat_callers(cases: Iterable[RepeatCase], window_days: int = 30) -> list[RepeatGroup]:
    """屡诉: the same phone and matter again within ``window_days`` of the previous case (chained)."""
    by_key: dict[tuple[str, str], list[RepeatCase]] = defaultdict(list)
    for c in cases:
        if c.caller_phone and c.matter_code:
            by_key[(c.caller_phone, c.matter_code)].append(c)
    window = timedelta(days=window_days)
    out: list[RepeatGroup] = []
    for (phone, matter), items in by_key.items():
        items.sort(key=lambda c: (c.created_at, c.number))
        run: list[RepeatCase] = [items[0]]
        for c in items[1:]:
            if c.created_at - run[-1].created_at <= window:
                run.append(c)
                continue
            if len(run) > 1:
                out.append(_group("caller", phone, matter, run))
            run = [c]
        if len(run) > 1:
            out.append(_group("caller", phone, matter, run))
    return _ordered(out)


def recurring_places(cases: Iterable[RepeatCase], min_returns: int = 1) -> list[RepeatGroup]:
    """屡治屡返: a matter reported again at a place after an earlier case there was closed."""
    by_key: dict[tuple[str, str], list[RepeatCase]] = defaultdict(list)
    for c in cases:
        place = place_of(c)
        if place and c.matter_code:
            by_key[(place, c.matter_code)].append(c)
    out: list[RepeatGroup] = []
    for (place, matter), items in by_key.items():
        if len(items) < 2:
            continue
        items.sort(key=lambda c: (c.created_at, c.number))
        returns = 0
        earliest_close: datetime | None = None
        for c in items:
            if earliest_close is not None and c.created_at > earliest_close:
                returns += 1
            if c.closed_at is not None and (earliest_close is None or c.closed_at < earliest_close):
                earliest_close = c.closed_at
        if returns >= min_returns:
            out.append(_group("place", place, matter, items, returns))
    return _ordered(out)


def bigrams(text: str) -> frozenset[str]:
    t = _SPACE.sub("", text)
    return frozenset(t[i : i + 2] for i in range(len(t) - 1)) if len(t) > 1 else frozenset({t})


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two bigram sets (0 … 1)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def text_clusters(
    cases: Sequence[RepeatCase],
    *,
    threshold: float = 0.7,
    window_hours: float = 72.0,
    min_callers: int = 2,
    strip: Sequence[str] = (),
    max_compare: int = 200,
) -> list[RepeatGroup]:
    """多人反映同一事件: near-duplicate descriptions of one matter in one street within ``window_hours``.

    Single-link clusters (union–find) with at least ``min_callers`` different phone numbers (a case
    without a phone counts as its own caller). ``strip``: boilerplate to remove first (e.g. a mark).
    Identical texts are joined by hashing; a new text is compared with at most ``max_compare`` recent
    distinct texts of its block, so a burst of thousands of reports stays linear.
    """
    blocks: dict[tuple[str, str], list[RepeatCase]] = defaultdict(list)
    for c in cases:
        if c.matter_code and c.street_code and c.description:
            blocks[(c.street_code, c.matter_code)].append(c)
    window = timedelta(hours=window_hours)
    out: list[RepeatGroup] = []
    cache: dict[str, frozenset[str]] = {}  # text → bigrams (repeated texts are common)
    for (_street, matter), items in blocks.items():
        if len(items) < 2:
            continue
        items.sort(key=lambda c: (c.created_at, c.number))
        grams = []
        for c in items:
            text = c.description
            if text not in cache:
                clean = text
                for s in strip:
                    clean = clean.replace(s, "")
                cache[text] = bigrams(clean)
            grams.append(cache[text])
        parent = list(range(len(items)))

        lo = 0
        exact: dict[frozenset[str], int] = {}  # identical texts: joined without comparing
        recent: list[int] = []  # indices of distinct texts in the window, newest last
        for j in range(len(items)):
            while items[j].created_at - items[lo].created_at > window:
                lo += 1
            same = exact.get(grams[j])
            if same is not None and same >= lo:
                parent[_find(parent, same)] = _find(parent, j)
                exact[grams[j]] = j
                continue
            exact[grams[j]] = j
            recent = [i for i in recent if i >= lo][-max_compare:]
            for i in recent:
                if similarity(grams[i], grams[j]) >= threshold:
                    parent[_find(parent, i)] = _find(parent, j)
            recent.append(j)
        members: dict[int, list[RepeatCase]] = defaultdict(list)
        for i, c in enumerate(items):
            members[_find(parent, i)].append(c)
        for group in members.values():
            callers = {c.caller_phone or f"#{c.number}" for c in group}
            if len(group) > 1 and len(callers) >= min_callers:
                out.append(_group("text", group[0].number, matter, group))
    return _ordered(out)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _group(kind: str, key: str, matter: str | None, items: list[RepeatCase], returns: int = 0) -> RepeatGroup:
    return RepeatGroup(
        kind=kind,
        key=key,
        matter_code=matter,
        numbers=tuple(c.number for c in items),
        first_at=items[0].created_at,
        last_at=items[-1].created_at,
        returns=returns,
    )


def _ordered(groups: list[RepeatGroup]) -> list[RepeatGroup]:
    return sorted(groups, key=lambda g: (-g.returns, -g.count, g.last_at, g.key), reverse=False)


def for_case(case: RepeatCase, history: Iterable[RepeatCase], window_days: int = 30) -> dict[str, list[str]]:
    """Screen-pop hint for one (new) case: earlier cases of the same caller / place and matter.

    ``caller``: same phone and matter within ``window_days``; ``place``: same place and matter, closed
    before this case came in (屡治屡返). Numbers newest first.
    """
    window = timedelta(days=window_days)
    place = place_of(case)
    caller: list[RepeatCase] = []
    again: list[RepeatCase] = []
    for h in history:
        if h.number == case.number or h.matter_code != case.matter_code or case.matter_code is None:
            continue
        if (
            case.caller_phone
            and h.caller_phone == case.caller_phone
            and (timedelta(0) <= case.created_at - h.created_at <= window)
        ):
            caller.append(h)
        if place and place_of(h) == place and h.closed_at is not None and h.closed_at < case.created_at:
            again.append(h)
    newest = sorted(caller, key=lambda c: c.created_at, reverse=True)
    newest_place = sorted(again, key=lambda c: c.created_at, reverse=True)
    return {"caller": [c.number for c in newest], "place": [c.number for c in newest_place]}
