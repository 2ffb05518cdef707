"""Transcript text helpers: t2s (繁转简), punctuation, character error rate (字错误率)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc  # opencc-python-reimplemented

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (繁体转简体) with OpenCC ``t2s``."""
    return str(_t2s().convert(text)) if text else text


#: Half-width punctuation Whisper tends to emit inside Chinese text, mapped to full-width.
_FULL_WIDTH = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；"})
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith(("P", "S"))


def strip_punctuation(text: str) -> str:
    """Remove punctuation, symbols and all whitespace (for scoring and matching)."""
    return "".join(ch for ch in text if not _is_punct(ch) and not ch.isspace())


def normalize_transcript(text: str) -> str:
    """Display form of a Mandarin transcript (规范化转写文本).

    Simplified characters; Chinese punctuation in full width; no spaces between Chinese
    characters (Whisper and Vosk both insert them); a trailing ``.`` becomes ``。``; repeated
    punctuation collapses. Latin words and digits are kept as they are.
    """
    text = to_simplified(text.strip())
    text = _SPACE_BETWEEN_CJK.sub("", text)
    text = re.sub(r"(?<=[\u3400-\u9fff])[,?!:;]", lambda m: m.group(0).translate(_FULL_WIDTH), text)
    text = re.sub(r"(?<=[\u3400-\u9fff])\.(?!\d)", "。", text)
    text = re.sub(r"([，。？！、；：])[，。？！、；：\s]+", r"\1", text)
    return text.strip()


def scoring_form(text: str) -> str:
    """The form compared when scoring: simplified, no punctuation, no spaces, lower case."""
    return strip_punctuation(to_simplified(text)).lower()


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance between two strings (characters)."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    previous = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        current = [i]
        for j, hc in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (rc != hc)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate (字错误率) of one pair, after :func:`scoring_form`."""
    ref, hyp = scoring_form(reference), scoring_form(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def corpus_cer(pairs: list[tuple[str, str]]) -> float:
    """Character error rate over several (reference, hypothesis) pairs: total edits / total chars."""
    edits = chars = 0
    for reference, hypothesis in pairs:
        ref, hyp = scoring_form(reference), scoring_form(hypothesis)
        edits += edit_distance(ref, hyp)
        chars += len(ref)
    return edits / chars if chars else 0.0


# --- decoder output guards (解码输出保护) -----------------------------------------------------------
#
# Whisper emits byte-level BPE tokens: one Chinese character is often two or three tokens, and a
# transcript cut at a token limit or a segment boundary can end inside a character. Text is
# therefore built from the joined token *bytes* (:func:`utf8_text`), never by decoding tokens one
# segment at a time, so U+FFFD (the replacement character) cannot appear.
#
# A decoder loop (复读) shows up as one character or phrase repeated until the token limit
# ("…伯伯伯伯伯…"). :func:`find_repeat` finds any unit of up to :data:`MAX_UNIT` characters repeated
# more than ``max_repeats`` times in a row; :func:`collapse_repeats` shortens such runs. Digit
# strings are the one exception (phone and ID numbers such as ``13800000000`` legitimately repeat a
# digit): a run of digits of at most :data:`MAX_DIGIT_RUN` characters is left alone; a longer one is
# a loop like any other.

#: Longest repeated unit (characters) the guards look for.
MAX_UNIT = 20
#: Longest digit string left untouched by the guards (an 18-digit ID card number).
MAX_DIGIT_RUN = 18
#: Characters that count as digits for the exemption (ASCII, full-width and Chinese numerals).
DIGITS = frozenset("0123456789０１２３４５６７８９〇零一二三四五六七八九幺两")


def utf8_text(data: bytes) -> str:
    """Decode UTF-8 bytes, dropping an incomplete trailing multi-byte sequence and any invalid byte.

    The result never contains U+FFFD unless the input really encoded it.
    """
    return data.decode("utf-8", errors="ignore")


@lru_cache(maxsize=8)
def _repeat_pattern(max_repeats: int) -> re.Pattern[str]:
    """A unit of 1..MAX_UNIT characters (shortest first) followed by ``max_repeats`` more copies."""
    return re.compile(r"(.{1,%d}?)\1{%d,}" % (MAX_UNIT, max_repeats), re.S)  # noqa: UP031


def _digit_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The maximal run of digit characters around ``text[start:end]``."""
    while start > 0 and text[start - 1] in DIGITS:
        start -= 1
    while end < len(text) and text[end] in DIGITS:
        end += 1
    return start, end


def _exempt(text: str, match: re.Match[str]) -> bool:
    """A repeat made of digits inside a digit string of at most MAX_DIGIT_RUN characters."""
    if not all(ch in DIGITS for ch in match.group(0)):
        return False
    start, end = _digit_span(text, match.start(), match.end())
    return end - start <= MAX_DIGIT_RUN


@dataclass(frozen=True)
class Repeat:
    """A run of ``unit`` repeated ``count`` times starting at ``start`` (character offsets)."""

    unit: str
    count: int
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.unit) * self.count


def _iter_repeats(text: str, max_repeats: int) -> list[Repeat]:
    pattern = _repeat_pattern(max_repeats)
    out: list[Repeat] = []
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        if _exempt(text, m):
            pos = m.start() + 1
            continue
        unit = m.group(1)
        out.append(Repeat(unit=unit, count=len(m.group(0)) // len(unit), start=m.start()))
        pos = m.end()
    return out


def find_repeat(text: str, max_repeats: int = 3) -> Repeat | None:
    """The first run of a unit (1–:data:`MAX_UNIT` characters) repeated more than ``max_repeats``
    times in a row, ignoring short digit strings (see above); ``None`` if there is none."""
    found = _iter_repeats(text, max_repeats)
    return found[0] if found else None


def has_loop(text: str, max_repeats: int = 3) -> bool:
    """True when ``text`` holds a run that :func:`find_repeat` reports."""
    return find_repeat(text, max_repeats) is not None


def collapse_repeats(text: str, max_repeats: int = 3, keep: int | None = None) -> str:
    """Shorten every run longer than ``max_repeats`` repeats to ``keep`` repeats (default
    ``max_repeats``). Idempotent; text without such runs is returned unchanged."""
    keep = max_repeats if keep is None else keep
    if not 1 <= keep <= max_repeats:
        raise ValueError("need 1 <= keep <= max_repeats")
    for _ in range(8):  # collapsing can join two runs into a new one: repeat until stable
        runs = _iter_repeats(text, max_repeats)
        if not runs:
            return text
        parts: list[str] = []
        pos = 0
        for run in runs:
            parts.append(text[pos : run.start])
            parts.append(run.unit * keep)
            pos = run.end
        parts.append(text[pos:])
        text = "".join(parts)
    return text
