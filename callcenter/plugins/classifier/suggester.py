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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.catalogue import Catalogue, load_catalogue
from callcenter.plugins.classifier.places import PlaceResult, extract_places, gazetteer_of
from callcenter.plugins.classifier.routing import UnitChoice, resolve_unit
from callcenter.plugins.classifier.text import REASONS, NoSuggestion, check_text
from callcenter.plugins.classifier.training import MODEL_FILE, current_version, default_models_dir

log = logging.getLogger(__name__)


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
        model._class_weights()  # build the per-class weight index now, not on the first request
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

    def _result(
        self, x_row: Any, probs: np.ndarray, text: str, hint: Any, ood_score: float | None = None
    ) -> SuggestionResult:
        if ood_score is not None and ood_score >= self.ood_threshold:
            # not a request: no matter, no unit, never auto-dispatched; the place is kept (prefill only)
            place = extract_places(text, self.gazetteer, hint)
            return SuggestionResult.none(
                "out_of_domain", None, self.version, place=place, out_of_domain_score=ood_score
            )
        probs = np.where(self._known, probs, -1.0)  # matters no longer in the catalogue are never proposed
        order = np.argsort(-probs)[:3]
        matters = []
        for i in order:
            m = self.catalogue.matters[str(self.model.classes[i])]
            matters.append(
                MatterScore(
                    m.code, m.name, self.catalogue.categories[m.category_code].name, max(0.0, float(probs[i]))
                )
            )
        place = extract_places(text, self.gazetteer, hint)
        unit = resolve_unit(self.catalogue, matters[0].code, place)
        confidence = matters[0].score
        # auto-dispatch only to a real owner: not when the unit is unknown or is the 12345 center itself
        owner = self.catalogue.units.get(unit.unit_code) if unit.unit_code else None
        auto = confidence >= self.threshold and owner is not None and owner.kind != "center"
        evidence = self.model.evidence(x_row, int(order[0]), exclude=self._place_words)
        return SuggestionResult(
            matters,
            unit,
            place,
            evidence,
            bool(auto),
            self.version,
            confidence,
            out_of_domain_score=ood_score,
        )

    def suggest(self, text: Any, caller_hint: Any = None) -> SuggestionResult:
        """Suggest for one text; never raises for bad text (returns a no-suggestion result with a reason)."""
        try:
            clean = check_text(text)
        except NoSuggestion as exc:
            return SuggestionResult.none(exc.reason, exc.message, self.version)
        x, probs, ood = self.model.predict_with_ood([clean])
        return self._result(
            (x.indices, x.data), probs[0], clean, caller_hint, None if ood is None else float(ood[0])
        )

    def suggest_many(self, texts: list[Any], hints: list[Any] | None = None) -> list[SuggestionResult]:
        """Batch version of ``suggest`` (one vectorisation for all valid texts)."""
        results: list[SuggestionResult | None] = [None] * len(texts)
        valid: list[tuple[int, str]] = []
        for i, text in enumerate(texts):
            try:
                valid.append((i, check_text(text)))
            except NoSuggestion as exc:
                results[i] = SuggestionResult.none(exc.reason, exc.message, self.version)
        if valid:
            x, probs, ood = self.model.predict_with_ood([t for _, t in valid])
            for row, (i, clean) in enumerate(valid):
                hint = hints[i] if hints else None
                lo, hi = x.indptr[row], x.indptr[row + 1]
                results[i] = self._result(
                    (x.indices[lo:hi], x.data[lo:hi]),
                    probs[row],
                    clean,
                    hint,
                    None if ood is None else float(ood[row]),
                )
        return [r for r in results if r is not None]


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
