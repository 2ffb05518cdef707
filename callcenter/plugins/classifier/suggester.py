"""Suggester (智能派单建议): top-3 matters, place, owning unit, evidence words and ``auto_dispatch``.

Out-of-domain speech (非诉求: greetings, thanks, chit-chat, ASR junk, unrelated questions) is recognised by
the model's detector: when its calibrated probability reaches ``ood_threshold`` the result has no matters,
``in_domain`` false, ``no_suggestion_reason`` ``out_of_domain`` and never ``auto_dispatch``.

``Suggester`` is immutable after loading and safe to share between threads. ``SuggesterHolder`` watches
the model folder's ``current`` pointer and swaps in a newly trained model atomically (the old model keeps
serving while the new one loads in the background).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.catalogue import Catalogue, load_catalogue
from callcenter.plugins.classifier.longtext import agency_categories, request_type, sentences
from callcenter.plugins.classifier.model import softmax
from callcenter.plugins.classifier.places import PlaceResult, extract_places, gazetteer_of
from callcenter.plugins.classifier.routing import UnitChoice, resolve_unit
from callcenter.plugins.classifier.text import REASONS, NoSuggestion, check_text
from callcenter.plugins.classifier.training import MODEL_FILE, current_version, default_models_dir

log = logging.getLogger(__name__)

#: Long messages (see ``Suggester._analyse``): texts longer than this, or with a subject line, are scored
#: as whole text + subject + best sentence; the weights are relative to the whole text's 1.0.
LONG_TEXT_CHARS = 60
SUBJECT_WEIGHT = 0.3
SENTENCE_WEIGHT = 0.5
#: Category ranking (大类): weight of the category head's raw score next to the best matter's
#: log-probability, bonus for a mentioned agency of the category, softmax temperature.
CATEGORY_HEAD_WEIGHT = 4.0
AGENCY_BONUS = 2.0
CATEGORY_TEMPERATURE = 1.0
#: Temperature of the category softmax for long messages: real long texts are further from the training
#: corpus than short generated ones, and the scores of the three views add up; 3.0 makes a category
#: confidence ≥ 0.85 right for about 0.89 of the dev set's tune part (docs/classifier.md).
LONG_CATEGORY_TEMPERATURE = 3.0
#: Second request (一件多诉): a sentence whose own category has at least this probability, for a
#: category other than the message's first with less than ``SECOND_MAX_MAIN_SHARE`` of the message as a
#: whole. Chosen on the dev set's tune part (round 3: 0.8 / 0.5 instead of 0.6 / 0.2 — a second request
#: the whole message already ranks second was excluded; right category 0.148 → 0.204, false flags on
#: single requests 0.065 → 0.057; the final part unchanged, docs/benchmarks.md).
SECOND_MIN_SCORE = 0.8
SECOND_MAX_MAIN_SHARE = 0.5
#: Only a sentence that announces another request is a candidate (另外 / 还有 / 同时 / 顺便 / 二是 …).
SECOND_REQUEST_CUES = (
    "另外",
    "还有",
    "同时",
    "顺便",
    "此外",
    "二是",
    "第二",
    "再有",
    "再就是",
    "再反映",
    "另一个",
    "也希望",
)


_SECOND_CUE = re.compile("|".join(map(re.escape, SECOND_REQUEST_CUES)))
#: ``suggest_many`` scores its texts in batches of about this many characters (subjects included) per
#: vectorisation, about 128 long messages or 2,500 short ones: a long message is a dozen rows of 769
#: scores, and beyond that the arrays outgrow the allocator's reused heap (each batch then pays fresh
#: pages) without making the products any cheaper; each batch also has a fixed cost that short texts
#: would feel in small batches (docs/benchmarks.md, issue 16).
BATCH_CHARS = 40_000


class ModelNotFound(FileNotFoundError):
    """No trained model where one was expected (run ``callcenter train``)."""


@dataclass
class MatterScore:
    code: str
    name: str
    category: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "category": self.category,
            "score": round(self.score, 4),
        }


@dataclass
class SecondRequest:
    """A second request found in one sentence of the message (一件多诉): its category and best matter."""

    category: str
    category_name: str
    matter: MatterScore
    sentence: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "category_name": self.category_name,
            "matter": self.matter.to_dict(),
            "sentence": self.sentence,
            "score": round(self.score, 4),
        }


@dataclass
class SuggestionResult:
    """One suggestion; ``to_dict()`` is the API / CLI JSON shape."""

    matters: list[MatterScore]
    unit: UnitChoice | None
    place: PlaceResult | None
    evidence: list[str]
    auto_dispatch: bool
    model_version: str
    confidence: float
    no_suggestion_reason: str | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: True when a matter was recognised (``matters`` non-empty); False for unusable text and for
    #: out-of-domain speech (see ``no_suggestion_reason``).
    in_domain: bool = True
    #: The model's probability that the text is not a citizen request (None: not classified, or a model
    #: trained without the out-of-domain class).
    out_of_domain_score: float | None = None
    #: Categories (大类) best first with their scores, (code, score); the first is the one of
    #: ``matters[0]`` (category before matter).
    category_ranking: list[tuple[str, str, float]] = field(default_factory=list)
    #: 诉求类型 (投诉 / 求助 / 咨询 / 建议 / 表扬) and its score (None: not classified).
    request_type: str | None = None
    request_type_score: float | None = None
    #: A second request in the same message (一件多诉), or None.
    second_request: SecondRequest | None = None

    @classmethod
    def none(
        cls,
        reason: str,
        message: str | None,
        model_version: str = "",
        place: PlaceResult | None = None,
        out_of_domain_score: float | None = None,
    ) -> SuggestionResult:
        return cls(
            [],
            None,
            place,
            [],
            False,
            model_version,
            0.0,
            reason,
            message or REASONS.get(reason, reason),
            in_domain=False,
            out_of_domain_score=out_of_domain_score,
        )

    def to_dict(self) -> dict[str, Any]:
        place = self.place

        def area(code: str | None, name: str | None) -> dict[str, str | None] | None:
            return {"code": code, "name": name} if code else None

        return {
            "matters": [m.to_dict() for m in self.matters],
            "unit": (
                {"code": self.unit.unit_code, "name": self.unit.unit_name}
                if self.unit is not None and self.unit.unit_code
                else None
            ),
            "area": {
                "district": area(place.district_code, place.district_name) if place else None,
                "street": area(place.street_code, place.street_name) if place else None,
                "community": area(place.community_code, place.community_name) if place else None,
            },
            "evidence": list(self.evidence),
            "auto_dispatch": self.auto_dispatch,
            "model_version": self.model_version,
            "confidence": round(self.confidence, 4),
            "no_suggestion_reason": self.no_suggestion_reason,
            "message": self.message,
            "in_domain": self.in_domain,
            "out_of_domain_score": (
                None if self.out_of_domain_score is None else round(self.out_of_domain_score, 4)
            ),
            "categories": [
                {"code": code, "name": name, "score": round(score, 4)}
                for code, name, score in self.category_ranking[:3]
            ],
            "request_type": self.request_type,
            "request_type_score": self.request_type_score,
            "second_request": None if self.second_request is None else self.second_request.to_dict(),
            "routing": (
                {
                    "rule_kind": self.unit.rule_kind,
                    "area_code": self.unit.area_code,
                    "reason": self.unit.reason,
                }
                if self.unit is not None
                else None
            ),
            "place": (
                {
                    "road": place.road,
                    "compound": place.compound,
                    "building": place.building,
                    "landmark": place.landmark,
                    "address": place.address,
                    "confidence": place.confidence,
                    "source": place.source,
                }
                if place
                else None
            ),
        }


class Suggester:
    """A loaded model bound to the catalogue."""

    def __init__(
        self,
        model: Any,
        catalogue: Catalogue,
        threshold: float | None = None,
        version: str = "",
        ood_threshold: float | None = None,
    ) -> None:
        from callcenter.plugins.classifier.text import tokenizer

        self.model = model
        self.catalogue = catalogue
        self.gazetteer = gazetteer_of(catalogue)
        self.version = version or str(model.meta.get("version", ""))
        if threshold is None:
            from callcenter.config import get_settings

            threshold = get_settings().classifier.auto_dispatch_threshold
        self.threshold = float(threshold)
        tokenizer(model.user_words)
        model.warm()  # build the prediction caches now, not on the first request
        known = np.array([c in catalogue.matters for c in model.classes])
        if not known.all():
            log.warning(
                "model %s knows %d matters missing from the catalogue", self.version, int((~known).sum())
            )
        self._known = known
        if ood_threshold is None:
            from callcenter.config import get_settings

            ood_threshold = get_settings().classifier.out_of_domain_threshold
        self.ood_threshold = float(ood_threshold)
        if getattr(model, "ood_weights", None) is None:
            log.warning("model %s has no out-of-domain detector: every text gets matters", self.version)
        self._place_words = frozenset(self.gazetteer.aliases)

    @classmethod
    def load(
        cls,
        model_dir: Path | str | None = None,
        catalogue: Catalogue | None = None,
        threshold: float | None = None,
    ) -> Suggester:
        """Load the current model of ``model_dir`` (models folder with ``current``, or a version folder)."""
        import joblib

        folder = Path(model_dir) if model_dir else default_models_dir()
        if not (folder / MODEL_FILE).exists():
            version = current_version(folder)
            if version is None:
                raise ModelNotFound(f"no trained model in {folder}; run `callcenter train`")
            folder = folder / version
        if not (folder / MODEL_FILE).exists():
            raise ModelNotFound(f"model file missing: {folder / MODEL_FILE}")
        model = joblib.load(folder / MODEL_FILE)
        return cls(model, catalogue or load_catalogue(), threshold, version=folder.name)

    def _category_index(self) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray | None]:
        """(column order grouping the matters by category, group starts, category codes, head column
        of each category or None) — built once."""
        cached = self.__dict__.get("_cat_index")
        if cached is None:
            cat_of = np.array([str(c)[:2] for c in self.model.classes])
            order = np.argsort(cat_of, kind="stable")
            codes, starts = np.unique(cat_of[order], return_index=True)
            head = getattr(self.model, "category_classes", None)
            head_cols = None
            if head is not None and getattr(self.model, "category_weights", None) is not None:
                pos = {str(c): i for i, c in enumerate(head)}
                if all(c in pos for c in codes):
                    head_cols = np.array([pos[c] for c in codes])
            cached = (order, starts, [str(c) for c in codes], head_cols)
            self.__dict__["_cat_index"] = cached
        return cached

    def _category_scores(
        self,
        probs: np.ndarray,
        head: np.ndarray | None,
        agencies: list[dict[str, str]],
        temperature: np.ndarray | float = CATEGORY_TEMPERATURE,
    ) -> tuple[np.ndarray, list[str]]:
        """Category probabilities (rows of ``probs``): best matter's log-probability per category, plus
        the category head's score and the agency bonus, softmax-normalised (hierarchical: 大类 first)."""
        order, starts, codes, head_cols = self._category_index()
        z = np.log(np.maximum.reduceat(probs[:, order], starts, axis=1) + 1e-9)
        if head is not None and head_cols is not None:
            z = z + CATEGORY_HEAD_WEIGHT * head[:, head_cols]
        index = {c: j for j, c in enumerate(codes)}
        for i, found in enumerate(agencies):
            for cat in set(found.values()):
                j = index.get(cat)
                if j is not None:
                    z[i, j] += AGENCY_BONUS
        t = np.asarray(temperature, dtype=np.float64)
        return softmax(z / (t.reshape(-1, 1) if t.ndim else t), 1.0), codes

    def _analyse(self, items: list[tuple[str, str | None]]) -> list[_Scored]:
        """Scores of each (text, subject) item; one vectorisation for all pieces.

        Short texts without a subject are scored as one piece (as the model was trained). Long texts and
        messages with a subject (留言: subject + detail) are scored as the whole text, plus the subject,
        plus the best sentence of the detail for each matter (max over sentences), so that the subject
        counts more and a long background does not dilute the one sentence that carries the request."""
        groups: list[list[str]] = []
        layout: list[tuple[int, int, int, int]] = []  # (full row, subject row or -1, first, end sentence)
        full_texts: list[str] = []
        pieces: list[str] = []  # the text of each row
        for text, subject in items:
            full = f"{subject}。{text}" if subject else text
            full_texts.append(full)
            row = len(pieces)
            pieces.append(full)
            if not subject and len(text) <= LONG_TEXT_CHARS:
                groups.append([text])
                layout.append((row, -1, 0, 0))
                continue
            parts = sentences(text)
            group = ([subject] if subject else []) + parts
            if len(group) == 1:  # one long sentence, no subject
                groups.append(group)
                layout.append((row, -1, 0, 0))
                continue
            groups.append(group)
            subj_row = len(pieces) if subject else -1
            pieces.extend(group)
            first = subj_row + 1 if subject else row + 1
            end = len(pieces) if len(parts) > 1 else first
            layout.append((row, subj_row, first, end))
        x = self.model.transform_groups(groups)
        raw = self.model.decision(x)
        head = self.model.category_decision(x) if hasattr(self.model, "category_decision") else None
        full_rows = [r for r, _, _, _ in layout]
        x_full = x[full_rows]
        ood = self.model.ood_probability(x_full, full_texts, raw[full_rows])
        rt_probs = (
            self.model.request_type_proba(x_full) if hasattr(self.model, "request_type_proba") else None
        )
        rt_names = getattr(self.model, "request_type_classes", None)
        rt_classes = [] if rt_names is None else [str(c) for c in rt_names]
        combined = np.empty((len(items), raw.shape[1]), dtype=np.float64)
        temps = np.empty(len(items))
        for i, (row, subj_row, first, end) in enumerate(layout):
            z, weight = raw[row].astype(np.float64), 1.0
            if subj_row >= 0:
                z = z + SUBJECT_WEIGHT * raw[subj_row]
                weight += SUBJECT_WEIGHT
            if end > first:
                z = z + SENTENCE_WEIGHT * raw[first:end].max(axis=0)
                weight += SENTENCE_WEIGHT
            combined[i], temps[i] = z, weight
        probs = softmax(combined / temps[:, None], self.model.temperature)
        cat_temps = np.array(
            [
                LONG_CATEGORY_TEMPERATURE if (subj >= 0 or end > first) else CATEGORY_TEMPERATURE
                for _, subj, first, end in layout
            ]
        )
        agencies = [agency_categories(t) for t in full_texts]
        cat_probs, codes = self._category_scores(
            probs, None if head is None else head[full_rows], agencies, cat_temps
        )
        out = []
        for i, (row, _subj_row, first, end) in enumerate(layout):
            second = None
            if end - first > 1:
                second = self._second_request(
                    raw[first:end], None if head is None else head[first:end], pieces[first:end], cat_probs[i]
                )
            lo, hi = x.indptr[row], x.indptr[row + 1]
            out.append(
                _Scored(
                    full_texts[i],
                    (x.indices[lo:hi], x.data[lo:hi]),
                    probs[i],
                    cat_probs[i],
                    codes,
                    None if ood is None else float(ood[i]),
                    second,
                    agencies[i],
                    None if rt_probs is None else dict(zip(rt_classes, rt_probs[i].tolist(), strict=True)),
                )
            )
        return out

    def _second_request(
        self, raw: np.ndarray, head: np.ndarray | None, parts: list[str], main: np.ndarray
    ) -> SecondRequest | None:
        """A sentence announcing another request whose own best category is clear (probability ≥
        ``SECOND_MIN_SCORE``), is not the message's first and has less than ``SECOND_MAX_MAIN_SHARE`` of
        the whole message: the second request (一件多诉)."""
        keep = [k for k, part in enumerate(parts) if _SECOND_CUE.search(part)]
        if not keep:
            return None
        raw, parts = raw[keep], [parts[k] for k in keep]
        head = None if head is None else head[keep]
        probs = softmax(raw, self.model.temperature)
        cat_probs, codes = self._category_scores(probs, head, [agency_categories(p) for p in parts])
        main_best = int(np.argmax(main))
        best: tuple[float, int, int] | None = None
        for k in range(len(parts)):
            j = int(np.argmax(cat_probs[k]))
            score = float(cat_probs[k, j])
            if j == main_best or score < SECOND_MIN_SCORE or float(main[j]) >= SECOND_MAX_MAIN_SHARE:
                continue
            if best is None or score > best[0]:
                best = (score, k, j)
        if best is None:
            return None
        score, k, j = best
        found = self._best_matter(probs[k], codes[j])
        if found is None:
            return None
        return SecondRequest(codes[j], self.catalogue.categories[codes[j]].name, found[1], parts[k], score)

    def _category_mask(self, category: str | None) -> np.ndarray:
        masks = self.__dict__.setdefault("_cat_masks", {})
        mask = masks.get(category)
        if mask is None:
            in_cat = np.array([category is None or str(c)[:2] == category for c in self.model.classes])
            mask = masks[category] = in_cat & self._known
        return np.asarray(mask)

    def _best_matter(self, probs: np.ndarray, category: str | None) -> tuple[int, MatterScore] | None:
        """(column, matter) of the most probable known matter of ``category`` (None: any category)."""
        mask = self._category_mask(category)
        if not mask.any():
            return None
        i = int(np.argmax(np.where(mask, probs, -1.0)))
        m = self.catalogue.matters[str(self.model.classes[i])]
        return i, MatterScore(
            m.code, m.name, self.catalogue.categories[m.category_code].name, max(0.0, float(probs[i]))
        )

    def _result(
        self, scored: _Scored, hint: Any, subject: str | None, detail: str, routing: Catalogue
    ) -> SuggestionResult:
        text, x_row, probs, ood_score = scored.text, scored.x_row, scored.probs, scored.ood_score
        rtype, rtype_score = request_type(subject or "", detail, scored.request_types)
        if ood_score is not None and ood_score >= self.ood_threshold:
            # not a request: no matter, no unit, never auto-dispatched; the place is kept (prefill only)
            place = extract_places(text, self.gazetteer, hint)
            return SuggestionResult.none(
                "out_of_domain", None, self.version, place=place, out_of_domain_score=ood_score
            )
        probs = np.where(self._known, probs, -1.0)  # matters no longer in the catalogue are never proposed
        cat_order = np.argsort(-scored.cat_probs)
        ranking = [
            (
                scored.codes[j],
                self.catalogue.categories[scored.codes[j]].name
                if scored.codes[j] in self.catalogue.categories
                else scored.codes[j],
                float(scored.cat_probs[j]),
            )
            for j in cat_order[:3]
        ]
        # category before matter: the first matter is the best one of the best category
        best = self._best_matter(probs, ranking[0][0])
        # the four best matters (a small catalogue may have fewer than five)
        top4 = np.argpartition(-probs, 4)[:4] if probs.size > 4 else np.arange(probs.size)
        order = [int(i) for i in top4[np.argsort(-probs[top4])]]
        first = best[1] if best is not None else None
        matters = [first] if first is not None else []
        for i in order:
            m = self.catalogue.matters[str(self.model.classes[i])]
            if len(matters) < 3 and (first is None or m.code != first.code):
                matters.append(
                    MatterScore(
                        m.code,
                        m.name,
                        self.catalogue.categories[m.category_code].name,
                        max(0.0, float(probs[i])),
                    )
                )
        top_index = best[0] if best is not None else order[0]
        place = extract_places(text, self.gazetteer, hint)
        unit = resolve_unit(routing, matters[0].code, place)
        # confidence: the matter's probability, capped by its category's (both must be sure)
        confidence = min(matters[0].score, ranking[0][2])
        # auto-dispatch only to a real owner: not when the unit is unknown or is the 12345 center itself
        owner = routing.units.get(unit.unit_code) if unit.unit_code else None
        auto = confidence >= self.threshold and owner is not None and owner.kind != "center"
        evidence = self.model.evidence(x_row, top_index, exclude=self._place_words)
        for word, category in scored.agencies.items():
            if word not in evidence and category == ranking[0][0]:
                evidence.append(word)
        return SuggestionResult(
            matters,
            unit,
            place,
            evidence,
            bool(auto),
            self.version,
            confidence,
            out_of_domain_score=ood_score,
            category_ranking=ranking,
            request_type=rtype,
            request_type_score=rtype_score,
            second_request=scored.second,
        )

    def suggest(
        self,
        text: Any,
        caller_hint: Any = None,
        subject: str | None = None,
        routing: Catalogue | None = None,
    ) -> SuggestionResult:
        """Suggest for one text; never raises for bad text (returns a no-suggestion result with a reason).

        ``subject``: the message's subject line (留言主题) when the text is its detail; it counts more.
        ``routing``: the catalogue whose responsibility list and units choose the owning unit (the
        database's, :class:`~callcenter.plugins.classifier.dbrules.DatabaseRules`); default the
        suggester's own catalogue (the files' list)."""
        return self.suggest_many([text], [caller_hint], [subject], routing=routing)[0]

    def suggest_many(
        self,
        texts: list[Any],
        hints: list[Any] | None = None,
        subjects: list[str | None] | None = None,
        routing: Catalogue | None = None,
    ) -> list[SuggestionResult]:
        """Batch version of ``suggest`` (one vectorisation per ``BATCH_CHARS`` characters of valid text)."""
        results: list[SuggestionResult | None] = [None] * len(texts)
        valid: list[tuple[int, str, str | None]] = []
        for i, text in enumerate(texts):
            try:
                clean = check_text(text)
            except NoSuggestion as exc:
                results[i] = SuggestionResult.none(exc.reason, exc.message, self.version)
                continue
            subject = subjects[i] if subjects else None
            if subject is not None:
                try:
                    subject = check_text(subject)
                except NoSuggestion:
                    subject = None
            valid.append((i, clean, subject))
        rules = self.catalogue if routing is None else routing
        for batch in _batches(valid):
            scored = self._analyse([(t, s) for _, t, s in batch])
            for sc, (i, clean, subject) in zip(scored, batch, strict=True):
                results[i] = self._result(sc, hints[i] if hints else None, subject, clean, rules)
        return [r for r in results if r is not None]


def _batches(
    items: Sequence[tuple[int, str, str | None]], limit: int = BATCH_CHARS
) -> Iterator[list[tuple[int, str, str | None]]]:
    """``items`` (index, text, subject) in consecutive batches of at most ``limit`` characters (a longer
    text is a batch of its own)."""
    batch: list[tuple[int, str, str | None]] = []
    size = 0
    for item in items:
        n = len(item[1]) + len(item[2] or "")
        if batch and size + n > limit:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


@dataclass
class _Scored:
    text: str
    x_row: tuple[np.ndarray, np.ndarray]
    probs: np.ndarray
    cat_probs: np.ndarray
    codes: list[str]
    ood_score: float | None
    second: SecondRequest | None
    agencies: dict[str, str]
    #: the model's request-type probabilities (None: a model without that head)
    request_types: dict[str, float] | None = None


class SuggesterHolder:
    """Serves the current model and hot-swaps a newly trained one without downtime (热更新).

    ``get()`` is cheap: at most every ``check_interval`` seconds it reads the ``current`` pointer; when the
    version changed it loads the new model in a background thread and swaps the reference when ready.
    """

    def __init__(
        self,
        models_dir: Path | str | None = None,
        check_interval: float = 5.0,
        catalogue: Catalogue | None = None,
        threshold: float | None = None,
    ) -> None:
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self.check_interval = check_interval
        self.catalogue = catalogue
        self.threshold = threshold
        self._current: Suggester | None = None
        self._lock = threading.Lock()
        self._loading = False
        self._last_check = 0.0
        self._failed_version: str | None = None
        self.last_error: str | None = None

    @property
    def version(self) -> str | None:
        return self._current.version if self._current else None

    def _load(self, version: str) -> Suggester:
        return Suggester.load(self.models_dir / version, self.catalogue, self.threshold)

    def reload(self) -> bool:
        """Load the version named by ``current`` now (synchronously); True when a new model was swapped in."""
        version = current_version(self.models_dir)
        if version is None or version == self.version:
            return False
        suggester = self._load(version)
        with self._lock:
            self._current = suggester
        log.info("suggester model %s active", version)
        return True

    def _background(self, version: str) -> None:
        try:
            suggester = self._load(version)
            with self._lock:
                self._current = suggester
            self.last_error = None
            log.info("suggester model %s active", version)
        except Exception as exc:  # keep serving the old model; do not retry this version
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._failed_version = version
            log.exception("could not load model %s; keeping %s", version, self.version)
        finally:
            self._loading = False

    def get(self) -> Suggester:
        """The active suggester; raises ``ModelNotFound`` when no model was ever trained."""
        now = time.monotonic()
        if self._current is None:
            with self._lock:
                if self._current is None:
                    version = current_version(self.models_dir)
                    if version is None:
                        raise ModelNotFound(f"no trained model in {self.models_dir}; run `callcenter train`")
                    self._current = self._load(version)
                    self._last_check = now
            assert self._current is not None
            return self._current
        if now - self._last_check >= self.check_interval and not self._loading:
            self._last_check = now
            version = current_version(self.models_dir)
            if version and version != self._current.version and version != self._failed_version:
                self._loading = True
                threading.Thread(target=self._background, args=(version,), daemon=True).start()
        return self._current
