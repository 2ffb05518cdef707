"""Long citizen messages (长文本留言): sentence segmentation, request type (诉求类型) and agency evidence.

Messages written by citizens (网上问政, 信件, the agent's notes of a long call) are a subject line plus a
detail of one to several hundred characters: the request is usually in the subject and in one or two
sentences of the detail; the rest is background (how long, who was called, feelings). The matter model
was trained on short generated requests, so the suggester scores the subject, the whole text and each
sentence and combines them (see ``Suggester``); this module holds the pure-text parts:

* ``sentences``: split on sentence ends (。！？；and line breaks), very short pieces glued to the next;
* ``request_type``: 投诉 / 求助 / 咨询 / 建议 / 表扬 from cue words (subject counts double), with a
  score that is the winning cue weight's share — a rule model, since no labelled request types exist
  for training (the figures on the team's dev set are in docs/classifier.md);
* ``agency_categories``: names of agencies and utilities (邮政局, 交通运输局, 出租车公司, 派出所 …) that
  the citizen mentions, mapped to the category whose matters they own (``data/agencies.csv``, written by
  the team from the usual division of responsibilities of municipal bureaus). A mention is evidence,
  not a verdict: the suggester adds a fixed bonus to that category's log-score.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from callcenter.plugins.classifier.names import NameIndex

DATA_DIR = Path(__file__).resolve().parent / "data"
AGENCIES_FILE = "agencies.csv"
REQUEST_TYPES = ("投诉", "求助", "咨询", "建议", "表扬")

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")
MIN_SENTENCE_CHARS = 6


def sentences(text: str) -> list[str]:
    """Sentences of ``text``; pieces shorter than ``MIN_SENTENCE_CHARS`` are glued to the next one."""
    out: list[str] = []
    carry = ""
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        piece = carry + piece
        if len(piece) < MIN_SENTENCE_CHARS:
            carry = piece
            continue
        out.append(piece)
        carry = ""
    if carry:
        if out:
            out[-1] += carry
        else:
            out.append(carry)
    return out


#: Cue words per request type and their weights. 投诉 is the default (most messages complain without
#: saying so), so its cues only need to beat weak cues of the others.
_CUES: dict[str, list[tuple[str, float]]] = {
    "表扬": [
        ("表扬", 3.0),
        ("点赞", 3.0),
        ("感谢信", 3.0),
        ("锦旗", 3.0),
        ("致谢", 2.5),
        ("非常感谢", 2.0),
        ("特别感谢", 2.0),
        ("衷心感谢", 2.5),
        ("感谢", 1.2),
        ("辛苦了", 1.5),
        ("好评", 2.0),
        ("赞扬", 3.0),
        ("负责任", 1.0),
        ("为民办实事", 2.0),
        ("热心", 0.8),
        ("及时解决了", 1.5),
        ("给予表扬", 3.0),
    ],
    "建议": [
        ("建议", 2.0),
        ("提议", 2.5),
        ("提个建议", 3.0),
        ("呼吁", 2.0),
        ("能否考虑", 2.0),
        ("是否可以考虑", 2.0),
        ("可否", 1.0),
        ("应该增设", 1.5),
        ("增设", 1.0),
        ("希望能增加", 1.5),
        ("希望增加", 1.5),
        ("希望开通", 1.5),
        ("优化", 0.8),
        ("改进", 0.8),
        ("意见", 0.6),
    ],
    "咨询": [
        ("咨询", 2.5),
        ("请问", 2.0),
        ("想问", 2.0),
        ("想了解", 2.0),
        ("了解一下", 1.5),
        ("是否", 0.8),
        ("怎么办理", 2.0),
        ("如何办理", 2.0),
        ("需要什么材料", 2.5),
        ("需要哪些", 2.0),
        ("哪里办", 2.0),
        ("怎么申请", 2.0),
        ("如何申请", 2.0),
        ("能不能", 0.6),
        ("可以吗", 1.0),
        ("吗？", 0.8),
        ("么？", 0.6),
        ("政策", 0.6),
        ("流程", 1.0),
        ("条件", 0.5),
        ("有没有", 0.5),
    ],
    "求助": [
        ("求助", 3.0),
        ("求求", 2.5),
        ("帮帮", 2.5),
        ("救救", 3.0),
        ("走投无路", 3.0),
        ("无路可走", 3.0),
        ("急需", 1.5),
        ("实在没办法", 2.0),
        ("没有办法了", 2.0),
        ("帮助", 1.0),
        ("帮忙", 0.8),
        ("困难", 0.8),
        ("救命", 3.0),
        ("被困", 2.0),
        ("无家可归", 2.5),
        ("怎么办", 1.0),
        ("不知道该", 1.0),
        ("找谁", 0.8),
        ("崩溃", 1.5),
        ("咋整", 1.5),
        ("拜托", 1.0),
        ("危险", 0.5),
        ("老人", 0.5),
    ],
    "投诉": [
        ("投诉", 2.5),
        ("举报", 2.5),
        ("不作为", 2.0),
        ("扰民", 1.5),
        ("违规", 1.0),
        ("违法", 1.0),
        ("拖欠", 1.0),
        ("乱收费", 1.5),
        ("强烈要求", 1.0),
        ("严查", 1.5),
        ("查处", 1.5),
        ("一直没人管", 1.5),
        ("没人管", 1.0),
        ("态度恶劣", 1.5),
    ],
}
#: (type, cue, weight) in the order of ``_CUES``, and one pattern that finds, at every position where a cue
#: can start (the character class: the regex engine skips the other positions), the longest cue starting
#: there (a lookahead, so that overlapping cues are all found); a cue that begins a longer one at the same
#: position (怎么办 in 怎么办理) is added by ``_CUE_PREFIXES``. Half the time of an ``in`` test per cue.
_CUE_LIST = [(kind, cue, w) for kind, cues in _CUES.items() for cue, w in cues]
_CUE_FINDER = re.compile(
    "(?=[{}])(?=({}))".format(
        re.escape("".join(sorted({c[0] for _, c, _ in _CUE_LIST}))),
        "|".join(map(re.escape, sorted({c for _, c, _ in _CUE_LIST}, key=lambda c: -len(c)))),
    )
)
_CUE_PREFIXES = {cue: frozenset(c for _, c, _ in _CUE_LIST if cue.startswith(c)) for _, cue, _ in _CUE_LIST}


def _cues_in(text: str) -> set[str]:
    """The cue words found in ``text`` (each once): the same set as ``cue in text`` for every cue."""
    found: set[str] = set()
    for cue in set(_CUE_FINDER.findall(text)):
        found |= _CUE_PREFIXES[cue]
    return found


#: The prior of the default type (what a message with no cue is).
DEFAULT_TYPE = "投诉"
DEFAULT_WEIGHT = 1.0
SUBJECT_WEIGHT = 2.0


#: With a learned request-type head, the rule's choice gets this bonus on the head's log-probability
#: (the head alone: 0.856 on the dev set's tune part, the rule alone 0.79, both together 0.862).
RULE_BONUS = 0.5


def request_type(
    subject: str, detail: str = "", learned: Mapping[str, float] | None = None
) -> tuple[str, float]:
    """(type, score in 0..1) of a message; ``subject`` may be empty (the whole text in ``detail``).

    ``learned``: the model's request-type probabilities (``MatterModel.request_type_proba``), when it has
    that head; the cue rule then only adds ``RULE_BONUS`` to its choice and the score is the head's
    probability of the answer."""
    weights = dict.fromkeys(REQUEST_TYPES, 0.0)
    weights[DEFAULT_TYPE] = DEFAULT_WEIGHT
    in_subject, in_detail = _cues_in(subject), _cues_in(detail)
    for kind, cue, w in _CUE_LIST:  # the order of ``_CUES``: the same sums, to the last bit
        if cue in in_subject:
            weights[kind] += SUBJECT_WEIGHT * w
        if cue in in_detail:
            weights[kind] += w
    best = max(REQUEST_TYPES, key=lambda k: weights[k])
    if not learned:
        return best, round(weights[best] / sum(weights.values()), 4)
    blended = {k: math.log(max(p, 1e-9)) + (RULE_BONUS if k == best else 0.0) for k, p in learned.items()}
    choice = max(blended, key=lambda k: blended[k])
    return choice, round(float(learned[choice]), 4)


#: the default list's path as a string, built once (a Path join per call was a tenth of a long message's time)
_DEFAULT_AGENCIES = str(DATA_DIR / AGENCIES_FILE)


@lru_cache(maxsize=4)
def _agencies(path: str) -> tuple[NameIndex, dict[str, str]]:
    """(index of the names, name → category)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = {
            r["word"].strip(): r["category"].strip()
            for r in csv.DictReader(fh)
            if len(r["word"].strip()) >= 2
        }
    return NameIndex(rows), rows


def agency_categories(text: str, path: Path | None = None) -> dict[str, str]:
    """{agency name found in ``text``: category code}; scanned left to right, longest name first at each
    position, so that 交通运输局 is found rather than a shorter name inside it (``NameIndex``)."""
    index, rows = _agencies(str(path) if path else _DEFAULT_AGENCIES)
    return {name: rows[name] for _, _, name in index.scan(text)}
