"""Text checks, normalisation and the process-wide word segmenter (分词: jieba's dictionary and algorithm,
run by jieba-rs) with the catalogue dictionary."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from callcenter.plugins.classifier.places import gazetteer_of

if TYPE_CHECKING:
    from callcenter.catalogue import Catalogue

MAX_TEXT_CHARS = 20_000
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
#: a letter or digit of any script: ``[^\W_]`` is exactly ``str.isalnum`` per character
_ALNUM = re.compile(r"[^\W_]")


class NoSuggestion(ValueError):
    """Text that cannot get a suggestion; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


REASONS = {
    "empty": "文本为空 (empty text)",
    "no_content": "只有标点或符号，没有可分析的内容 (only punctuation or symbols)",
    "no_chinese": "没有中文内容，无法判断事项 (no Chinese text: English-only or emoji-only input)",
    "too_long": f"文本超过 {MAX_TEXT_CHARS} 字 (text longer than {MAX_TEXT_CHARS} characters)",
    "invalid_utf8": "不是有效的 UTF-8 文本 (invalid UTF-8)",
    "not_text": "输入不是文本 (input is not a string)",
    "out_of_domain": (
        "未识别到诉求事项：寒暄、闲聊、噪声或与政务服务无关的内容 "
        "(no matter recognised: greeting, chit-chat, noise or not a request)"
    ),
}


#: Full-width ASCII forms and the ideographic space, which NFKC maps one to one onto ASCII (U+FF01–U+FF5E
#: → U+0021–U+007E, U+3000 → space): most of what NFKC changes in Chinese text (，！？：（）).
_WIDE = re.compile("[\uff01-\uff5e\u3000]")
_NARROW = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}


def _narrow(match: re.Match[str]) -> str:
    return _NARROW[match.group()]


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, a quarter of its time on Chinese text: the full-width forms
    are replaced by their ASCII characters, and when that leaves a text NFKC already holds as normalised
    (its quick check) it is the answer — those characters decompose to exactly these ASCII characters,
    so both texts have the same NFKD and so the same NFKC. Any other text is normalised in full."""
    narrowed = _WIDE.sub(_narrow, text)
    if unicodedata.is_normalized("NFKC", narrowed):
        return narrowed
    return unicodedata.normalize("NFKC", text)


def check_text(text: object) -> str:
    """Validate and normalise ``text`` (NFKC, control characters removed, spaces collapsed).

    Raises ``NoSuggestion`` with a reason code from ``REASONS``.
    """
    if not isinstance(text, str):
        raise NoSuggestion("not_text", REASONS["not_text"])
    if len(text) > MAX_TEXT_CHARS:
        raise NoSuggestion("too_long", REASONS["too_long"])
    cleaned = _SPACES.sub(" ", _CONTROL.sub("", nfkc(text))).strip()
    if not cleaned:
        raise NoSuggestion("empty", REASONS["empty"])
    if not _ALNUM.search(cleaned):
        raise NoSuggestion("no_content", REASONS["no_content"])
    if not _CJK.search(cleaned):
        raise NoSuggestion("no_chinese", REASONS["no_chinese"])
    return cleaned


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8 decoding; ``NoSuggestion('invalid_utf8')`` on bad bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoSuggestion("invalid_utf8", f"{REASONS['invalid_utf8']}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------
# word segmentation (分词): jieba's algorithm and dictionary, run by jieba-rs
# ---------------------------------------------------------------------------------------------------------
# ``rjieba`` (jieba-rs, MIT) cuts exactly like ``jieba`` in dictionary mode (the same dictionary, the same
# DAG + maximum-probability route; tests/plugins/classifier/test_text.py compares the two on a few hundred
# texts with the catalogue's user words) and about eight times faster, which is what long messages need
# (docs/benchmarks.md). Its dictionary is built in, so there is no cache file to write.
_lock = threading.Lock()
_tokenizer: Any = None
_user_words: set[str] = set()


def user_word_freq(word: str) -> int:
    """Frequency given to a user word (catalogue names, keywords, place names): high enough that the word
    is kept whole."""
    return max(2000, 200 * len(word))


def tokenizer(extra_words: Iterable[str] = ()) -> Any:
    """The process-wide segmenter (``rjieba.Jieba``), initialised once, plus user words."""
    global _tokenizer
    import rjieba

    with _lock:
        if _tokenizer is None:
            _tokenizer = rjieba.Jieba()
        new = [w for w in extra_words if w and w not in _user_words and len(w) >= 2]
        for word in new:
            _tokenizer.add_word(word, user_word_freq(word), None)
            _user_words.add(word)
    return _tokenizer


def user_words_from_catalogue(catalogue: Catalogue) -> list[str]:
    """The user dictionary: catalogue names and keywords, and place names of the gazetteer."""

    words: list[str] = []
    for m in catalogue.matters.values():
        words.append(re.sub(r"[（(].*?[)）]|、", "", m.name))
        words.extend(k for k in m.keywords if len(k) <= 8)
    gz = gazetteer_of(catalogue)
    words.extend(a for a in gz.aliases if len(a) >= 2)
    return sorted(set(words))


_PUNCT_ONLY = re.compile(r"^[\W_]+$")


def raw_cut(text: str) -> list[str]:
    """The tokenizer's own output for ``text`` (dictionary mode, no HMM), punctuation and spaces included:
    for lookups in a vocabulary fitted with ``cut``, where they never are."""
    tk = _tokenizer if _tokenizer is not None else tokenizer()
    return list(tk.cut(text, False))


def cut(text: str) -> list[str]:
    """Word tokens of ``text`` (jieba dictionary mode, no HMM: unknown words are covered by the character
    n-grams of the model), punctuation and spaces dropped."""
    tk = _tokenizer if _tokenizer is not None else tokenizer()
    return [w for w in tk.cut(text, False) if w.strip() and not _PUNCT_ONLY.match(w)]
