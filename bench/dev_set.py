"""The real-style development set (bench/data/citizen_messages_dev.jsonl): loading, the tune / final
split, and category-level scoring of a suggester.

The set is evaluation data. Nothing in ``callcenter/`` reads it. To keep it a fair estimate, it is split
once, by a hash of the message id, into

* ``tune`` (about 3/4): the part looked at while improving the suggester (error analysis, the few
  numbers chosen by hand, see docs/classifier.md "What was tuned on what");
* ``final`` (about 1/4): looked at once, at the end, as the check of the tuned figures.

Scoring is at the level of the first-level category (大类): a matter suggestion counts by its catalogue
category; top-3 is over the first three distinct categories of the suggestion.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEV_FILE = Path(__file__).resolve().parent / "data" / "citizen_messages_dev.jsonl"


@dataclass(frozen=True)
class Message:
    id: str
    subject: str
    detail: str
    category: str
    matter: str | None
    request_type: str
    second_category: str | None

    @property
    def part(self) -> str:
        """``final`` for about a quarter of the ids (stable hash), ``tune`` for the rest."""
        h = int(hashlib.sha256(self.id.encode()).hexdigest()[:8], 16)
        return "final" if h % 4 == 0 else "tune"


def load(part: str | None = None, path: Path = DEV_FILE) -> list[Message]:
    """The messages of ``part`` (``tune`` / ``final`` / None for all)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        rows.append(
            Message(
                r["id"],
                r["subject"],
                r["detail"],
                r["category"],
                r.get("matter"),
                r["request_type"],
                r.get("second_category"),
            )
        )
    return [m for m in rows if part is None or m.part == part]


def categories_of(result: Any) -> list[str]:
    """Distinct categories of a suggestion, best first (``category_ranking`` when the suggester gives
    one, otherwise the categories of the proposed matters)."""
    ranking = getattr(result, "category_ranking", None)
    if ranking:
        return [r[0] for r in ranking]
    seen: list[str] = []
    for m in result.matters:
        code = m.code[:2]
        if code not in seen:
            seen.append(code)
    return seen


def score(messages: list[Message], results: list[Any]) -> dict[str, Any]:
    """Category top-1 / top-3, request type and second-request figures of ``results``."""
    n = len(messages)
    top1 = top3 = rt_ok = rt_n = 0
    second_n = second_hit = second_flag = second_false = single_n = 0
    for msg, res in zip(messages, results, strict=True):
        cats = categories_of(res)
        top1 += bool(cats) and cats[0] == msg.category
        top3 += msg.category in cats[:3]
        rtype = getattr(res, "request_type", None)
        if rtype is not None:
            rt_n += 1
            rt_ok += rtype == msg.request_type
        second = getattr(res, "second_request", None)
        if msg.second_category:
            second_n += 1
            if second is not None:
                second_flag += 1
                second_hit += second.category == msg.second_category
        else:
            single_n += 1
            second_false += second is not None
    out: dict[str, Any] = {
        "n": n,
        "category_top1": round(top1 / n, 4),
        "category_top3": round(top3 / n, 4),
    }
    if rt_n:
        out["request_type_accuracy"] = round(rt_ok / rt_n, 4)
    if second_n:
        out["second_request"] = {
            "n_with_second": second_n,
            "flagged": round(second_flag / second_n, 4),
            "right_category": round(second_hit / second_n, 4),
            "false_flags_on_single": round(second_false / max(single_n, 1), 4),
        }
    return out


def evaluate(suggester: Any, part: str | None = "tune", subject_only: bool = False) -> dict[str, Any]:
    """Run ``suggester`` on the messages of ``part`` (subject + detail, or the subject alone) and score
    it; also the auto-dispatch curve at category level and the matter top-1 where a matter is given."""
    messages = load(part)
    if subject_only:
        results = suggester.suggest_many([m.subject for m in messages])
    else:
        results = suggester.suggest_many([m.detail for m in messages], subjects=[m.subject for m in messages])
    out = score(messages, results)
    conf = [r.confidence for r in results]
    ok = [
        bool(categories_of(r)) and categories_of(r)[0] == m.category
        for m, r in zip(messages, results, strict=True)
    ]
    curve = []
    for t in (0.3, 0.5, 0.7, 0.85, 0.9, 0.95):
        sel = [o for c, o in zip(conf, ok, strict=True) if c >= t]
        curve.append(
            {
                "threshold": t,
                "coverage": round(len(sel) / len(messages), 4),
                "accuracy": round(sum(sel) / len(sel), 4) if sel else None,
            }
        )
    out["auto_dispatch_curve_category"] = curve
    auto = [o for r, o in zip(results, ok, strict=True) if r.auto_dispatch]
    out["auto_dispatched"] = len(auto)
    out["auto_dispatch_category_accuracy"] = round(sum(auto) / len(auto), 4) if auto else None
    with_matter = [(m, r) for m, r in zip(messages, results, strict=True) if m.matter]
    out["matter_top1"] = round(
        sum(bool(r.matters) and r.matters[0].code == m.matter for m, r in with_matter) / len(with_matter), 4
    )
    out["rejected_out_of_domain"] = sum(r.no_suggestion_reason == "out_of_domain" for r in results)
    return out


def long_items(length: int = 300) -> list[tuple[str, str]]:
    """(subject, detail) of every dev-set message with the detail padded to ``length`` characters by the
    next messages' details: the long texts of the throughput figures."""
    messages = load()
    details = [m.detail for m in messages]
    items = []
    for i, m in enumerate(messages):
        d, j = m.detail, i + 1
        while len(d) < length:
            d += details[j % len(details)]
            j += 1
        items.append((m.subject, d[:length]))
    return items
