"""Training (模型训练): generated corpus + agent feedback → versioned model folder with metadata.

Layout under ``output_dir`` (default ``<settings.classifier.model_dir>/models``)::

    <version>/model.joblib      the MatterModel
    <version>/metadata.json     data hash, date, corpus sizes, metrics, timings
    current                     text file holding the active version (replaced atomically)
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from callcenter.catalogue import Catalogue, load_catalogue

POINTER = "current"
MODEL_FILE = "model.joblib"
META_FILE = "metadata.json"
DEFAULT_PER_MATTER = {"train": 40, "calib": 4, "test": 8}
THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
OOD_THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


@dataclass
class ModelInfo:
    """What ``train`` produced."""

    version: str
    path: Path
    data_hash: str
    created_at: str
    metrics: dict[str, Any]
    counts: dict[str, int]
    timings: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def default_models_dir() -> Path:
    from callcenter.config import get_settings

    return Path(get_settings().classifier.model_dir) / "models"


def current_version(models_dir: Path) -> str | None:
    try:
        version = (Path(models_dir) / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def why_retrain(models_dir: Path) -> str | None:
    """Why the model in ``models_dir`` must be (re)trained before use, or None when it is usable."""
    version = current_version(models_dir)
    if version is None:
        return "first run: no model yet"
    import joblib

    try:
        model = joblib.load(Path(models_dir) / version / MODEL_FILE)
    except Exception as exc:  # a missing or unreadable file: train a new one
        return f"the current model cannot be loaded: {exc.__class__.__name__}"
    if getattr(model, "ood_weights", None) is None:
        return "the current model predates out-of-domain detection"
    return None


def set_current(models_dir: Path, version: str) -> None:
    """Point ``current`` at ``version`` atomically (write + rename)."""
    models_dir = Path(models_dir)
    if not (models_dir / version / MODEL_FILE).exists():
        raise FileNotFoundError(f"no model {version} in {models_dir}")
    tmp = models_dir / f".{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, models_dir / POINTER)


def evaluate(
    probs: np.ndarray,
    classes: np.ndarray,
    y_true: list[str],
    catalogue: Catalogue,
    rejected: np.ndarray | None = None,
) -> dict[str, Any]:
    """Top-1 / top-3 accuracy, macro-F1, category accuracy and the auto-dispatch accuracy/coverage curve.

    ``rejected``: texts the out-of-domain detector turned away (the suggester proposes no matter for them):
    they count as wrong at top-1 and top-3 and are never covered by the auto-dispatch curve."""
    from sklearn.metrics import f1_score

    rejected = np.zeros(len(probs), dtype=bool) if rejected is None else np.asarray(rejected, dtype=bool)
    top = np.argsort(-probs, axis=1)[:, :3]
    pred = np.where(rejected, "", classes[top[:, 0]])
    truth = np.asarray(y_true)
    conf = np.where(rejected, 0.0, probs[np.arange(len(probs)), top[:, 0]])
    correct = pred == truth
    curve = []
    for t in THRESHOLDS:
        mask = conf >= t
        curve.append(
            {
                "threshold": t,
                "coverage": round(float(mask.mean()), 4),
                "accuracy": round(float(correct[mask].mean()), 4) if mask.any() else None,
            }
        )
    cat = np.array([catalogue.matters[c].category_code if c else "" for c in pred])
    cat_true = np.array([catalogue.matters[c].category_code for c in truth])
    labels = sorted(set(truth.tolist()))
    hit3 = [not rejected[i] and truth[i] in classes[top[i]] for i in range(len(truth))]
    return {
        "n": len(truth),
        "top1": round(float(correct.mean()), 4),
        "top3": round(float(np.mean(hit3)), 4),
        "macro_f1": round(float(f1_score(truth, pred, labels=labels, average="macro", zero_division=0)), 4),
        "category_top1": round(float((cat == cat_true).mean()), 4),
        "auto_dispatch_curve": curve,
    }


#: Weight of a team-written citizen message (``classifier/data/citizen_corpus``) next to a generated
#: sample's 1.0, in the matter model and in the category head (for the default corpus size; scaled with
#: it). The head (29 categories, ~60 citizen messages each against ~1,000 generated samples) gets 3.0: it is
#: the citizen ones that carry how people write. The matter model also holds the out-of-domain detector, and
#: citizen text (thanks in a 表扬, emotions, background) teaches it that chit-chat words are requests: on the
#: dev set's tune part / the hand-written out-of-domain set, weight 0 gives 0.816 / 0.939 rejected, 0.5
#: gives 0.864 / 0.913, 1.0 gives 0.873 / 0.896, 3.0 costs the generated split its 0.94 matter floor.
CITIZEN_WEIGHT = 0.5
CITIZEN_CATEGORY_WEIGHT = 3.0

#: Inverse regularisation of the request-type head (诉求类型, logistic regression on the citizen messages).
REQUEST_TYPE_C = 4.0

#: Caps on historical work orders used per matter / per category-only mapping (``cap_imported``).
IMPORT_PER_MATTER = 60
IMPORT_PER_CATEGORY = 1500


@dataclass(frozen=True)
class ImportedSample:
    """One historical work order mapped onto the catalogue (``category_code`` always, ``matter_code`` when
    the center's category name maps to a matter)."""

    text: str
    category_code: str
    matter_code: str | None = None


def _hash(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def cap_imported(
    imported: Sequence[ImportedSample],
    per_matter: int = IMPORT_PER_MATTER,
    per_category: int = IMPORT_PER_CATEGORY,
) -> tuple[list[ImportedSample], list[ImportedSample]]:
    """(rows for the matter model, rows for the category head only), capped by a stable hash order."""
    by_key: dict[tuple[str, str], list[tuple[int, ImportedSample]]] = {}
    for row in imported:
        key = ("m", row.matter_code) if row.matter_code else ("c", row.category_code)
        by_key.setdefault(key, []).append((_hash(row.text), row))
    matter_rows: list[ImportedSample] = []
    category_rows: list[ImportedSample] = []
    for (kind, _code), rows in sorted(by_key.items()):
        rows.sort(key=lambda r: r[0])
        if kind == "m":
            matter_rows.extend(r for _, r in rows[:per_matter])
        else:
            category_rows.extend(r for _, r in rows[:per_category])
    return matter_rows, category_rows


def split_imported(
    imported: Sequence[ImportedSample], holdout_share: float = 0.1, max_holdout: int = 5000
) -> tuple[list[ImportedSample], list[ImportedSample]]:
    """(train, held-out slice) of the import by a stable hash of the text: the slice is never trained on
    and decides whether the new model may be activated (``train --import``)."""
    train_rows: list[ImportedSample] = []
    holdout: list[ImportedSample] = []
    for row in imported:
        (holdout if (_hash(row.text) % 1000) < holdout_share * 1000 else train_rows).append(row)
    if len(holdout) > max_holdout:
        train_rows.extend(holdout[max_holdout:])
        holdout = holdout[:max_holdout]
    return train_rows, holdout


def _version(data_hash: str, models_dir: Path) -> str:
    base = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{data_hash[:8]}"
    version, n = base, 1
    while (models_dir / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


def train(
    output_dir: Path | str | None = None,
    feedback_rows: Iterable[object] = (),
    progress: bool = True,
    *,
    per_matter: dict[str, int] | None = None,
    seed: int = 12345,
    n_jobs: int = 2,
    data_dir: Path | str | None = None,
    activate: bool = True,
    prune_threshold: float = 0.01,
    keep: int | None = 5,
    out_of_domain: bool = True,
    imported: Sequence[ImportedSample] = (),
    citizen: bool = True,
    citizen_dir: Path | str | None = None,
    citizen_weight: float | None = None,
    citizen_category_weight: float | None = None,
) -> ModelInfo:
    """Train a model, evaluate it on the held-out split and write ``<output_dir>/<version>/``.

    ``feedback_rows``: agent confirmations / corrections (``text``, ``matter_code``), objects or mappings.
    ``per_matter``: generated samples per matter and split (default ``DEFAULT_PER_MATTER``).
    When ``activate``, the ``current`` pointer is switched to the new version (services pick it up); then all
    but the ``keep`` newest versions are deleted (``keep=None`` keeps everything).
    ``out_of_domain``: also train the out-of-domain detector (非诉求识别) from
    ``classifier/data/out_of_domain.txt``; False gives a matters-only model (for comparisons).
    ``imported``: historical work orders (``train --import``) mapped onto the catalogue; those with a matter
    train the matter model and the category head, those mapped to a category only train the head. At most
    ``IMPORT_PER_MATTER`` per matter and ``IMPORT_PER_CATEGORY`` per category are used (chosen by a stable
    hash), so that training time stays bounded and one frequent matter does not drown the rest.
    """
    import joblib
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from sklearn.linear_model import SGDClassifier

    from callcenter.plugins.classifier.corpus import (
        OUT_OF_DOMAIN,
        Sample,
        feedback_samples,
        generate,
        generate_out_of_domain,
        load_citizen_messages,
        mix_requests,
        phrase_pools,
        short_requests,
    )
    from callcenter.plugins.classifier.model import (
        OOD_THRESHOLD,
        MatterModel,
        fit_ood_gate,
        fit_temperature,
        make_vectorizers,
        prune,
        softmax,
    )
    from callcenter.plugins.classifier.text import tokenizer, user_words_from_catalogue

    models_dir = Path(output_dir) if output_dir else default_models_dir()
    models_dir.mkdir(parents=True, exist_ok=True)
    catalogue = load_catalogue(data_dir)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    steps = [
        "dictionary",
        "corpus",
        "features",
        "linear model",
        "calibration",
        "out-of-domain gate",
        "evaluation",
        "save",
    ]
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        disable=not progress,
        transient=False,
    ) as bar:
        task = bar.add_task("training", total=len(steps))

        def step(name: str) -> None:
            bar.update(task, description=f"[{steps.index(name) + 1}/{len(steps)}] {name}")

        step("dictionary")
        t = time.perf_counter()
        user_words = user_words_from_catalogue(catalogue)
        tokenizer(user_words)
        timings["dictionary_s"] = time.perf_counter() - t
        bar.advance(task)

        step("corpus")
        t = time.perf_counter()
        samples = generate(catalogue, per_matter or DEFAULT_PER_MATTER, seed=seed)
        fb, skipped = feedback_samples(catalogue, feedback_rows)
        train_s = [s for s in samples if s.split == "train"] + fb
        calib_s = [s for s in samples if s.split == "calib"]
        test_s = [s for s in samples if s.split == "test"]
        ood = (
            generate_out_of_domain(catalogue, per_matter or DEFAULT_PER_MATTER, seed=seed)
            if out_of_domain
            else []
        )
        ood_train = [s for s in ood if s.split == "train"]
        ood_calib = [s for s in ood if s.split == "calib"]
        ood_test = [s for s in ood if s.split == "test"]
        mixed = mix_requests(samples, per_matter or DEFAULT_PER_MATTER, seed=seed) if out_of_domain else []
        mixed_train = [s for s in mixed if s.split == "train"]
        mixed_calib = [s for s in mixed if s.split == "calib"]
        mixed_calib += short_requests(catalogue, seed=seed) if out_of_domain else []
        timings["corpus_s"] = time.perf_counter() - t
        bar.advance(task)

        step("features")
        t = time.perf_counter()
        words, chars = make_vectorizers()
        # one linear model over the matters and the OUT_OF_DOMAIN class, trained on the requests, the
        # requests wrapped in chit-chat (with their matter) and the out-of-domain texts: every matter's
        # one-vs-rest classifier learns that greetings and chit-chat words are no evidence for it
        imp_matter, imp_category = cap_imported(imported)
        same = _same_categories(catalogue, data_dir)
        citizen_msgs = load_citizen_messages(catalogue, citizen_dir, only_categories=same) if citizen else []
        cit_train = [m for m in citizen_msgs if m.split == "train"]
        # each message's views: with a matter they train the matter model, else the category head only
        cit_with = [(v, m) for m in cit_train if m.matter_code for v in m.views()]
        cit_without = [(v, m) for m in cit_train if not m.matter_code for v in m.views()]
        cit_matter = [Sample(v, str(m.matter_code), "train") for v, m in cit_with]
        cit_category = [(v, m.category_code) for v, m in cit_without]
        fit_s = (
            train_s
            + mixed_train
            + ood_train
            + [Sample(i.text, str(i.matter_code), "train") for i in imp_matter]
            + cit_matter
        )
        head_only = [(i.text, str(i.category_code)) for i in imp_category] + cit_category
        texts = [s.text for s in fit_s] + [t for t, _ in head_only]
        # the weights are for the default corpus size: a smaller generated corpus (tests) gets the same
        # citizen-to-generated ratio, not a head dominated by the citizen messages
        scale = (per_matter or DEFAULT_PER_MATTER)["train"] / DEFAULT_PER_MATTER["train"]
        w_cit = scale * (CITIZEN_WEIGHT if citizen_weight is None else citizen_weight)
        w_cit_cat = scale * (
            CITIZEN_CATEGORY_WEIGHT if citizen_category_weight is None else citizen_category_weight
        )
        n_gen = len(fit_s) - len(cit_matter)
        weight_matter = np.r_[np.ones(n_gen), np.full(len(cit_matter), w_cit)]
        weight_all = np.r_[
            np.ones(n_gen),
            np.full(len(cit_matter), w_cit_cat),
            np.ones(len(imp_category)),
            np.full(len(cit_category), w_cit_cat),
        ]
        import scipy.sparse as sp

        x_all = sp.hstack([words.fit_transform(texts), chars.fit_transform(texts)], format="csr")
        x_train = x_all[: len(fit_s)]
        y_train = np.array([s.matter_code for s in fit_s])
        timings["features_s"] = time.perf_counter() - t
        bar.advance(task)

        step("linear model")
        t = time.perf_counter()
        clf = SGDClassifier(loss="hinge", alpha=2e-5, max_iter=8, tol=None, n_jobs=n_jobs, random_state=seed)
        clf.fit(x_train, y_train, sample_weight=weight_matter)
        # the category head (大类): same features, the generated requests labelled with their category
        request_rows = np.r_[
            np.flatnonzero(y_train != OUT_OF_DOMAIN), np.arange(len(fit_s), len(texts), dtype=np.int64)
        ]
        y_category = np.array(
            [catalogue.matters[c].category_code for c in y_train[y_train != OUT_OF_DOMAIN]]
            + [c for _, c in head_only]
        )
        category_coef: np.ndarray | None = None
        category_intercept: np.ndarray | None = None
        category_classes: np.ndarray | None = None
        if len(set(y_category)) >= 2:  # a catalogue of one category needs no category head
            category_clf = SGDClassifier(
                loss="hinge", alpha=2e-5, max_iter=8, tol=None, n_jobs=n_jobs, random_state=seed
            )
            category_clf.fit(x_all[request_rows], y_category, sample_weight=weight_all[request_rows])
            category_coef, category_intercept = category_clf.coef_, category_clf.intercept_
            category_classes = category_clf.classes_
            if len(category_classes) == 2:
                # a binary linear model keeps one row (the second class's score): one row per class
                category_coef = np.vstack([-category_coef, category_coef])
                category_intercept = np.concatenate([-category_intercept, category_intercept])
        # the request-type head (诉求类型) learns from the citizen messages, the only texts with a type
        rt_weights: np.ndarray | None = None
        rt_intercept: np.ndarray | None = None
        rt_classes: np.ndarray | None = None
        # the citizen views are already rows of x_all: the tail of the matter rows and of the head-only rows
        cit_rows = np.r_[
            np.arange(n_gen, len(fit_s)), np.arange(len(texts) - len(cit_without), len(texts))
        ].astype(np.int64)
        cit_types = np.array([m.request_type for _, m in cit_with + cit_without], dtype=object)
        typed = cit_types != ""
        if len(set(cit_types[typed])) >= 2:
            from sklearn.linear_model import LogisticRegression

            rt_clf = LogisticRegression(C=REQUEST_TYPE_C, max_iter=2000)
            rt_clf.fit(x_all[cit_rows[typed]], cit_types[typed].astype(str))
            rt_classes = rt_clf.classes_
            rt_weights = np.asarray(rt_clf.coef_.T, dtype=np.float32)
            rt_intercept = np.asarray(rt_clf.intercept_, dtype=np.float64)
            if len(rt_classes) == 2:  # binary: one row of scores for the second class
                rt_weights = np.hstack([-rt_weights / 2, rt_weights / 2])
                rt_intercept = np.r_[-rt_intercept / 2, rt_intercept / 2]
        timings["fit_s"] = time.perf_counter() - t
        bar.advance(task)

        step("calibration")
        t = time.perf_counter()
        feature_names = np.concatenate([words.get_feature_names_out(), chars.get_feature_names_out()])
        # the OUT_OF_DOMAIN column becomes the gate's detector; the matter model keeps the matter columns
        is_matter = clf.classes_ != OUT_OF_DOMAIN
        model = MatterModel(
            words=words,
            chars=chars,
            weights=prune(clf.coef_[is_matter], prune_threshold),
            intercept=clf.intercept_[is_matter].astype(np.float32),
            classes=clf.classes_[is_matter],
            temperature=1.0,
            user_words=user_words,
            feature_names=feature_names,
            n_word_features=len(words.vocabulary_),
            category_weights=None if category_coef is None else prune(category_coef, prune_threshold),
            category_intercept=None if category_intercept is None else category_intercept.astype(np.float32),
            category_classes=category_classes,
            request_type_weights=rt_weights,
            request_type_intercept=rt_intercept,
            request_type_classes=rt_classes,
        )
        index = {c: i for i, c in enumerate(model.classes)}
        x_cal = model.transform([s.text for s in calib_s])
        model.temperature = fit_temperature(
            model.decision(x_cal), np.array([index[s.matter_code] for s in calib_s])
        )
        timings["calibration_s"] = time.perf_counter() - t
        bar.advance(task)

        step("out-of-domain gate")
        t = time.perf_counter()
        if not is_matter.all():
            ood_col = int(np.flatnonzero(~is_matter)[0])
            # requests (plain and wrapped in chit-chat) = 0, out-of-domain texts = 1
            texts_cal_ood = [s.text for s in calib_s + mixed_calib + ood_calib]
            y_cal_ood = np.r_[
                np.zeros(len(calib_s) + len(mixed_calib), dtype=int), np.ones(len(ood_calib), dtype=int)
            ]
            fit_ood_gate(
                model,
                clf.coef_[ood_col].astype(np.float32),
                float(clf.intercept_[ood_col]),
                texts_cal_ood,
                y_cal_ood,
            )
        timings["ood_gate_s"] = time.perf_counter() - t
        bar.advance(task)

        step("evaluation")
        t = time.perf_counter()
        texts_test = [s.text for s in test_s]
        x_test = model.transform(texts_test)
        scores = model.decision(x_test)
        probs = softmax(scores, model.temperature)
        p_in = model.ood_probability(x_test, texts_test, scores)
        rejected = None if p_in is None else p_in >= OOD_THRESHOLD
        metrics = evaluate(probs, model.classes, [s.matter_code for s in test_s], catalogue, rejected)
        if p_in is not None and ood_test:
            texts_out = [s.text for s in ood_test]
            p_out = model.ood_probability(model.transform(texts_out), texts_out)
            assert p_out is not None
            metrics["out_of_domain"] = ood_metrics(p_in, p_out, OOD_THRESHOLD)
        cit_held = [m for m in citizen_msgs if m.split == "heldout"]
        if cit_held:
            metrics["citizen_heldout"] = citizen_metrics(model, catalogue, cit_held)
        metrics["temperature"] = round(model.temperature, 4)
        metrics["weights_nnz"] = int(model.weights.nnz)
        timings["evaluation_s"] = time.perf_counter() - t
        bar.advance(task)

        step("save")
        version = _version(catalogue.data_hash, models_dir)
        folder = models_dir / version
        tmp_folder = models_dir / f".{version}.tmp"
        tmp_folder.mkdir(parents=True)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        counts = {
            "matters": len(catalogue.matters),
            "train": len(train_s),
            "calib": len(calib_s),
            "test": len(test_s),
            "matters_with_heldout_phrasings": sum(
                1 for m in catalogue.matters.values() if len(phrase_pools(m)["test"]) < len(m.phrasings)
            ),
            "out_of_domain_train": len(ood_train),
            "out_of_domain_calib": len(ood_calib),
            "out_of_domain_test": len(ood_test),
            "requests_in_chitchat_train": len(mixed_train),
            "requests_in_chitchat_calib": len(mixed_calib),
            "imported_matter_samples": len(imp_matter),
            "imported_category_samples": len(imp_category),
            "citizen_train_messages": len(cit_train),
            "citizen_heldout_messages": len(citizen_msgs) - len(cit_train),
            "feedback_samples": len(fb),
            "feedback_skipped": skipped,
            "features": int(x_train.shape[1]),
        }
        timings["total_s"] = time.perf_counter() - t_start
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        model.meta = {"version": version, "data_hash": catalogue.data_hash, "created_at": created}
        joblib.dump(model, tmp_folder / MODEL_FILE, compress=3)
        info = ModelInfo(
            version=version,
            path=folder,
            data_hash=catalogue.data_hash,
            created_at=created,
            metrics=metrics,
            counts=counts,
            timings={k: round(v, 3) for k, v in timings.items()},
            extra={
                "peak_rss_mb": round(rss_mb, 1),
                "seed": seed,
                "per_matter": per_matter or DEFAULT_PER_MATTER,
                "model_bytes": (tmp_folder / MODEL_FILE).stat().st_size,
            },
        )
        (tmp_folder / META_FILE).write_text(
            json.dumps(info.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        os.replace(tmp_folder, folder)
        if activate:
            set_current(models_dir, version)
        if keep is not None:
            prune_versions(models_dir, keep)
        bar.advance(task)
    return info


def _same_categories(catalogue: Catalogue, data_dir: Path | str | None) -> set[str] | None:
    """None for the shipped catalogue (the citizen corpus is labelled against it and loads strictly); for
    another catalogue (a center's own, a test's) the codes of its categories that have the shipped
    catalogue's code and name, the only ones whose citizen messages mean the same there."""
    if data_dir is None:
        return None
    shipped = load_catalogue().categories
    return {c for c, cat in catalogue.categories.items() if c in shipped and shipped[c].name == cat.name}


def citizen_metrics(model: Any, catalogue: Catalogue, messages: Sequence[Any]) -> dict[str, Any]:
    """Category top-1 / top-3 and matter top-1 of ``model`` (through the suggester, subject + detail) on
    team-written citizen messages it was not trained on (``CitizenMessage``, split ``heldout``)."""
    from callcenter.plugins.classifier.suggester import Suggester

    suggester = Suggester(model, catalogue, threshold=1.0, ood_threshold=1.0)
    results = suggester.suggest_many([m.detail for m in messages], subjects=[m.subject for m in messages])
    top1 = top3 = matter_n = matter_ok = 0
    for msg, res in zip(messages, results, strict=True):
        cats = [c for c, _, _ in res.category_ranking]
        top1 += bool(cats) and cats[0] == msg.category_code
        top3 += msg.category_code in cats[:3]
        if msg.matter_code:
            matter_n += 1
            matter_ok += bool(res.matters) and res.matters[0].code == msg.matter_code
    n = len(messages)
    return {
        "n": n,
        "category_top1": round(top1 / n, 4),
        "category_top3": round(top3 / n, 4),
        "matter_top1": round(matter_ok / max(matter_n, 1), 4),
    }


def ood_metrics(p_in: np.ndarray, p_out: np.ndarray, threshold: float) -> dict[str, Any]:
    """Out-of-domain detection on the held-out split: share of generated out-of-domain texts rejected and
    share of in-domain texts wrongly rejected, at the suggester's threshold and as a curve."""
    return {
        "threshold": threshold,
        "n_in": len(p_in),
        "n_out": len(p_out),
        "rejection_rate": round(float((p_out >= threshold).mean()), 4),
        "false_rejection_rate": round(float((p_in >= threshold).mean()), 4),
        "curve": [
            {
                "threshold": t,
                "rejection_rate": round(float((p_out >= t).mean()), 4),
                "false_rejection_rate": round(float((p_in >= t).mean()), 4),
            }
            for t in OOD_THRESHOLDS
        ],
    }


def prune_versions(models_dir: Path | str, keep: int = 5) -> list[str]:
    """Delete all but the ``keep`` newest model versions; the ``current`` one is always kept."""
    import shutil

    models_dir = Path(models_dir)
    current = current_version(models_dir)
    versions = sorted(
        (
            p
            for p in models_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / MODEL_FILE).exists()
        ),
        key=lambda p: p.name,
        reverse=True,
    )
    removed = []
    for folder in versions[max(keep, 1) :]:
        if folder.name != current:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def load_feedback(database_url: str | None = None) -> list[dict[str, Any]]:
    """Agent feedback rows (``suggestion_feedback``) from the configured database."""
    from sqlalchemy import select

    from callcenter.db.models import SuggestionFeedback
    from callcenter.db.session import session_scope

    with session_scope(database_url) as session:
        rows = session.execute(
            select(
                SuggestionFeedback.id,
                SuggestionFeedback.text,
                SuggestionFeedback.matter_code,
                SuggestionFeedback.unit_code,
                SuggestionFeedback.area_code,
                SuggestionFeedback.accepted,
            ).order_by(SuggestionFeedback.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def mark_feedback_used(ids: list[int], version: str, database_url: str | None = None) -> int:
    """Record which model version learned from which feedback rows (``used_in_model``)."""
    from sqlalchemy import update

    from callcenter.db.models import SuggestionFeedback
    from callcenter.db.session import session_scope

    if not ids:
        return 0
    with session_scope(database_url) as session:
        result = session.execute(
            update(SuggestionFeedback).where(SuggestionFeedback.id.in_(ids)).values(used_in_model=version)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def read_metadata_for(models_dir: Path | str, version: str | None = None) -> dict[str, Any]:
    """Metadata of ``version`` (default: the current one) in ``models_dir``."""
    models_dir = Path(models_dir)
    version = version or current_version(models_dir)
    if version is None:
        raise FileNotFoundError(f"no current model in {models_dir}")
    return dict(json.loads((models_dir / version / META_FILE).read_text(encoding="utf-8")))


def load_model_info(models_dir: Path | str, version: str | None = None) -> ModelInfo:
    """The ``ModelInfo`` of a trained model, read back from its ``metadata.json``."""
    meta = read_metadata_for(models_dir, version)
    meta["path"] = Path(meta["path"])
    return ModelInfo(**meta)
