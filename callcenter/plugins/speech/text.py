"""Transcript text helpers: t2s (繁转简), punctuation, character error rate (字错误率)."""

from __future__ import annotations

import re
import unicodedata
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
