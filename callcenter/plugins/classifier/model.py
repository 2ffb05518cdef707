"""The matter model (事项分类模型): jieba words + character n-grams, TF-IDF, a linear model with
temperature-scaled softmax scores, and an out-of-domain gate (非诉求识别, see ``fit_ood_detector``). Pure
numpy/scipy at prediction time; pickled with joblib."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from callcenter.plugins.classifier.text import cut, raw_cut

#: Words of the call itself, not of the matter: never shown as evidence.
GENERIC_WORDS = frozenset(
    [
        "小区",
        "街道",
        "号楼",
        "有人",
        "还在",
        "什么",
        "我们",
        "你们",
        "他们",
        "一下",
        "问题",
        "反映",
        "没人管",
        "楼下",
        "地址",
        "居民",
        "这边",
        "那边",
        "好几天",
        "附近",
        "怎么办",
        "怎么",
        "麻烦",
        "处理",
        "希望",
        "有关",
        "部门",
        "谢谢",
        "你好",
        "您好",
        "喂",
        "就是",
        "那个",
        "这个",
        "已经",
        "还是",
        "没有",
        "一直",
        "现在",
        "今天",
        "我家",
        "家里",
        "我要",
        "想问",
        "咨询",
        "投诉",
        "方面",
        "关于",
        "的事",
        "这事儿",
        "派人",
        "管管",
        "解决",
        "协调",
    ]
)
_PUNCT = re.compile(r"[\s，。！？、,.!?；;：:]")


_WHITE_SPACES = re.compile(r"\s\s+")
#: Features whose matter weights are kept dense at prediction time (``MatterModel._split_weights``):
#: 8,192 × 769 float32 ≈ 25 MB per loaded model (4,096: 7 % slower on long messages, 16,384 no faster).
DENSE_FEATURES = 8192
#: ``filter`` predicate keeping the tokens found in a vocabulary (C-level, no Python call per token)
_NOT_NONE = partial(operator.is_not, None)


#: bits per code point in an n-gram's integer key (Unicode needs 21)
GRAM_BITS = 21


def _gram_key(gram: str) -> int:
    """Integer key of a character n-gram (n ≤ 3): its code points, ``GRAM_BITS`` each, first one highest.
    A key is unique per n-gram because no code point is 0 inside a vocabulary n-gram (and so no key is 0)."""
    key = 0
    for ch in gram:
        key = (key << GRAM_BITS) | ord(ch)
    return key


class _GramTable:
    """Open-addressing hash table (linear probing, multiplicative hashing) from non-zero uint64 keys to
    feature ids, looked up for a whole array of keys at once: each probe round is a few vectorised
    operations over the keys not yet settled. Slots: the smallest power of two ≥ 4 × the keys, so probe
    chains stay short (the longest is ``max_probe`` + 1 slots)."""

    #: 2^64 / golden ratio, odd: Knuth's multiplicative hash
    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
        self.bits = max(4, int(len(keys) * 4 - 1).bit_length())
        size = 1 << self.bits
        self.mask = np.uint64(size - 1)
        self.keys = np.zeros(size, dtype=np.uint64)  # 0: empty
        self.ids = np.full(size, -1, dtype=np.int64)
        self.max_probe = 0
        home = self._home(keys)
        todo = np.arange(len(keys))
        probe = 0
        while todo.size:  # round p: every key still unplaced tries home + p; one winner per free slot
            slot = (home[todo] + np.uint64(probe)) & self.mask
            free = self.keys[slot] == 0
            cand, cand_slot = todo[free], slot[free]
            _, first = np.unique(cand_slot, return_index=True)
            self.keys[cand_slot[first]] = keys[cand[first]]
            self.ids[cand_slot[first]] = ids[cand[first]]
            placed = np.zeros(len(todo), dtype=bool)
            placed[np.flatnonzero(free)[first]] = True
            if placed.any():
                self.max_probe = probe
            todo = todo[~placed]
            probe += 1

    def _home(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (keys * self.MULTIPLIER) >> np.uint64(64 - self.bits)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Feature id of each key, -1 where it is not in the table (keys must not be 0)."""
        out = np.full(len(keys), -1, dtype=np.int64)
        home = self._home(keys)
        todo = np.arange(len(keys))
        for probe in range(self.max_probe + 1):
            slot = (home[todo] + np.uint64(probe)) & self.mask
            found = self.keys[slot]
            hit = found == keys[todo]
            out[todo[hit]] = self.ids[slot[hit]]
            todo = todo[~hit & (found != 0)]  # an empty slot ends a key's chain: not in the table
            if not todo.size:
                break
        return out


def make_vectorizers(max_char_features: int = 60_000) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(analyzer=cut, sublinear_tf=True, dtype=np.float32)
    chars = TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        sublinear_tf=True,
        min_df=2,
        max_features=max_char_features,
        dtype=np.float32,
    )
    return words, chars


#: Reject a text as "not a request" (非诉求) when the gate's probability reaches this. The probability is
#: calibrated for an even prior; 0.9 asks for nine-to-one evidence, because the two errors do not cost the
#: same: a rejected request loses its suggestion, while chit-chat that slips through only shows a
#: low-confidence list that is never auto-dispatched (see the curve in docs/benchmarks.md).
OOD_THRESHOLD = 0.9


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / max(temperature, 1e-6)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """Temperature scaling (温度校准): the T minimising the negative log-likelihood on a calibration split."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(len(y_index)), y_index] + 1e-12)))

    res = minimize_scalar(nll, bounds=(np.log(0.005), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


@dataclass
class MatterModel:
    """A trained model; ``predict`` returns calibrated probabilities over ``classes``."""

    words: TfidfVectorizer
    chars: TfidfVectorizer
    weights: sp.csr_matrix  # (n_features, n_classes), pruned
    intercept: np.ndarray  # (n_classes,)
    classes: np.ndarray  # matter codes
    temperature: float
    user_words: list[str]
    feature_names: np.ndarray = field(repr=False)
    n_word_features: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    #: out-of-domain gate: detector weights over the same features and intercept, and the calibrated
    #: combination (a_detector, a_length, a_best, b) so that P(not a request) =
    #: sigmoid(a_detector · detector score + a_length · ln(1 + characters) + a_best · best matter score + b);
    #: ``ood_weights`` None for models trained without the gate
    ood_weights: np.ndarray | None = None
    ood_intercept: float = 0.0
    ood_gate: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0)
    #: category head (大类): a linear model over the same features trained on the categories of the
    #: generated texts (weights (n_features, n_categories) sparse, intercept, category codes); None for
    #: models trained before it (the suggester then ranks categories by their best matter alone)
    category_weights: sp.csr_matrix | None = None
    category_intercept: np.ndarray | None = None
    category_classes: np.ndarray | None = None
    #: request-type head (诉求类型: 投诉 / 求助 / 咨询 / 建议 / 表扬): a multinomial logistic model over the
    #: same features trained on the team-written citizen messages (weights (n_features, n_types) dense,
    #: intercept, type names); None for models trained without them (the rule cues then decide alone)
    request_type_weights: np.ndarray | None = None
    request_type_intercept: np.ndarray | None = None
    request_type_classes: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted fields only: the caches built at prediction time (``_wt``, ``_split``,
        ``_cat_dense``, ``_grams``, ``_name_list``: every attribute whose name starts with ``_``) are
        rebuilt after loading."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def warm(self) -> None:
        """Build the prediction caches now, not on the first request."""
        self._class_weights()
        self._split_weights()
        self._gram_table()
        self._names()
        if self.category_weights is not None:
            self.category_decision(sp.csr_matrix((1, self.weights.shape[0]), dtype=np.float32))

    def _word_ids(self, text: str) -> list[int]:
        """Word feature ids of ``text``, one per occurrence. Tokens outside the vocabulary are dropped;
        punctuation and spaces never are in it (the vocabulary was fitted with ``cut``, which drops them),
        so the raw tokenizer output is looked up."""
        return list(filter(_NOT_NONE, map(self.words.vocabulary_.get, raw_cut(text))))

    def _gram_table(self) -> _GramTable:
        """The character n-gram vocabulary as a hash table over the n-grams' integer keys (``_gram_key``),
        built once, so that a batch is looked up by a few vectorised probes instead of a dictionary
        look-up per n-gram (or a binary search: four times slower)."""
        cached = self.__dict__.get("_grams")
        if cached is None:
            vocab = self.chars.vocabulary_
            keys = np.fromiter((_gram_key(g) for g in vocab), dtype=np.uint64, count=len(vocab))
            ids = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
            cached = self.__dict__["_grams"] = _GramTable(keys, ids)
        return cached

    def _char_ids(self, pieces: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(piece index, character n-gram feature id) of every 1–3-gram occurrence in ``pieces`` that is in
        the vocabulary, as ``TfidfVectorizer(analyzer="char", ngram_range=(1, 3))`` would count them
        (lower case, runs of white space made one space). Vectorised over the batch: the pieces are
        joined with NUL and n-grams that contain one are dropped (NUL is never in a vocabulary n-gram:
        no training text has one, ``check_text`` removes it)."""
        table = self._gram_table()
        texts = [_WHITE_SPACES.sub(" ", p.lower()) for p in pieces]
        cp = np.frombuffer("\0".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        # the piece of each position from the lengths (a NUL inside a piece is no boundary)
        piece_of = np.repeat(np.arange(len(texts)), [len(t) + 1 for t in texts])[: len(cp)]
        real = cp != 0
        starts = [np.flatnonzero(real)]
        keys = [cp[starts[0]]]
        for n in (2, 3):
            m = len(cp) - n + 1
            if m <= 0:
                break
            ok = real[:m].copy()
            key = cp[:m].copy()
            for k in range(1, n):
                ok &= real[k : m + k]
                key = (key << np.uint64(GRAM_BITS)) | cp[k : m + k]
            where = np.flatnonzero(ok)
            starts.append(where)
            keys.append(key[where])
        feature = table.lookup(np.concatenate(keys))
        found = feature >= 0
        return piece_of[np.concatenate(starts)[found]], feature[found]

    def _features(self, pieces: list[str], rows: sp.csr_matrix | None) -> sp.csr_matrix:
        """TF-IDF rows (sublinear tf, l2 per block, as the fitted vectorizers) of ``pieces``; ``rows``
        (n_rows × n_pieces, 0/1) adds pieces up into one text per row (None: one row per piece). Only the
        word lookup runs per piece; the n-grams and all arithmetic are vectorised over the batch."""
        offset = len(self.words.vocabulary_)
        n_features = offset + len(self.chars.vocabulary_)
        word_ids = [self._word_ids(p) for p in pieces]
        n_words = np.fromiter((len(w) for w in word_ids), dtype=np.int64, count=len(word_ids))
        words = np.fromiter(chain.from_iterable(word_ids), dtype=np.int64, count=int(n_words.sum()))
        if pieces:
            char_piece, chars = self._char_ids(pieces)
        else:
            char_piece = chars = np.zeros(0, dtype=np.int64)
        counts = sp.csr_matrix(
            (
                np.ones(len(words) + len(chars)),
                (np.r_[np.repeat(np.arange(len(pieces)), n_words), char_piece], np.r_[words, chars + offset]),
            ),
            shape=(len(pieces), n_features),
        )
        if rows is not None:
            counts = rows @ counts
        counts.sum_duplicates()
        counts.sort_indices()
        idf = np.concatenate([self.words.idf_, self.chars.idf_])
        data = (1.0 + np.log(counts.data)) * idf[counts.indices]
        # l2 norm per row and block (words, characters)
        row_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        block = row_of * 2 + (counts.indices >= offset)
        norms = np.sqrt(np.bincount(block, weights=data * data, minlength=2 * counts.shape[0]))
        data /= norms[block]
        return sp.csr_matrix((data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF features of ``texts``: the same numbers as the fitted vectorizers' ``transform``
        (``sklearn_transform``), without sklearn's per-call overhead (matters for one text per call)."""
        return self._features(list(texts), None)

    def transform_groups(self, groups: list[list[str]]) -> sp.csr_matrix:
        """Features of texts given as pieces (subject, sentences): per group one row for the whole text
        (the pieces' counts added up: each piece is tokenised once), then, for groups of more than one
        piece, one row per piece. Equal to ``transform`` of the joined text but for the words and
        n-grams that would straddle two pieces."""
        pieces: list[str] = []
        row_piece: list[tuple[int, int]] = []  # (row, piece) pairs of the 0/1 summing matrix
        n_rows = 0
        for group in groups:
            first = len(pieces)
            pieces.extend(group)
            row_piece.extend((n_rows, first + k) for k in range(len(group)))
            n_rows += 1
            if len(group) > 1:
                row_piece.extend((n_rows + k, first + k) for k in range(len(group)))
                n_rows += len(group)
        pairs = np.array(row_piece, dtype=np.int64).reshape(-1, 2)
        rows = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_rows, len(pieces)))
        return self._features(pieces, rows)

    def sklearn_transform(self, texts: list[str]) -> sp.csr_matrix:
        """Reference implementation with the vectorizers (used at training time and in tests)."""
        return sp.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")

    def _split_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix]:
        """The matter weights split for fast products (built once per loaded model): the
        ``DENSE_FEATURES`` most frequent features (lowest idf) as a dense block, the rest sparse.
        (position of each feature in the dense block or -1, position in the sparse rest or -1, dense
        block, sparse rest). Sparse × sparse spends most of its time building a sparse result that is
        nearly dense; the frequent features carry most of a text's non-zeros."""
        cached = self.__dict__.get("_split")
        if cached is None:
            idf = np.concatenate([self.words.idf_, self.chars.idf_])
            n = len(idf)
            top = np.sort(np.argsort(idf, kind="stable")[: min(DENSE_FEATURES, n)])
            dense_pos = np.full(n, -1, dtype=np.int64)
            dense_pos[top] = np.arange(len(top))
            rest = np.flatnonzero(dense_pos < 0)
            rest_pos = np.full(n, -1, dtype=np.int64)
            rest_pos[rest] = np.arange(len(rest))
            w = self.weights.tocsr()
            cached = (dense_pos, rest_pos, w[top].toarray().astype(np.float32), w[rest].tocsr())
            self.__dict__["_split"] = cached
        return cached

    def decision(self, x: sp.csr_matrix) -> np.ndarray:
        """Raw matter scores of the rows of ``x`` (x @ weights + intercept), computed as dense block +
        sparse rest (``_split_weights``): the same numbers up to float rounding, ≈ 4× faster on batches."""
        dense_pos, rest_pos, dense, rest = self._split_weights()
        x = x.tocsr()
        in_dense = dense_pos[x.indices] >= 0
        # entries before each row start that are in the dense block: the two parts' row pointers
        before = np.zeros(len(x.indices) + 1, dtype=np.int64)
        np.cumsum(in_dense, out=before[1:])
        dense_ptr = before[x.indptr]
        in_rest = ~in_dense
        n_rows = x.shape[0]
        x_dense = sp.csr_matrix(
            (x.data[in_dense], dense_pos[x.indices[in_dense]], dense_ptr), shape=(n_rows, dense.shape[0])
        )
        x_rest = sp.csr_matrix(
            (x.data[in_rest], rest_pos[x.indices[in_rest]], x.indptr - dense_ptr),
            shape=(n_rows, rest.shape[0]),
        )
        scores = np.asarray(x_dense @ dense, dtype=np.float64)
        scores += np.asarray((x_rest @ rest).toarray())
        return scores + self.intercept

    def category_decision(self, x: sp.csr_matrix) -> np.ndarray | None:
        """Raw scores of the category head (None: a model without one); its 29 columns are kept dense."""
        if self.category_weights is None or self.category_intercept is None:
            return None
        dense = self.__dict__.get("_cat_dense")
        if dense is None:
            dense = self.__dict__["_cat_dense"] = self.category_weights.toarray().astype(np.float32)
        return np.asarray(x @ dense, dtype=np.float64) + self.category_intercept

    def request_type_proba(self, x: sp.csr_matrix) -> np.ndarray | None:
        """Probabilities of the request types (columns ``request_type_classes``; None: no such head)."""
        if self.request_type_weights is None or self.request_type_intercept is None:
            return None
        return softmax(
            np.asarray(x @ self.request_type_weights, dtype=np.float64) + self.request_type_intercept, 1.0
        )

    def predict(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        x = self.transform(texts)
        return x, softmax(self.decision(x), self.temperature)

    def predict_with_ood(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray | None]:
        """``predict`` plus the out-of-domain probability of each text (None: no gate in this model)."""
        x = self.transform(texts)
        scores = self.decision(x)
        return x, softmax(scores, self.temperature), self.ood_probability(x, texts, scores)

    def ood_features(
        self, x: sp.csr_matrix, texts: list[str], scores: np.ndarray | None = None
    ) -> np.ndarray:
        """The gate's inputs per text: detector score, ln(1 + characters), best matter's raw score.

        ``x``: ``transform(texts)``; ``scores``: ``decision(x)`` when already computed."""
        assert self.ood_weights is not None
        if scores is None:
            scores = self.decision(x)
        detector = np.asarray(x @ self.ood_weights).ravel() + self.ood_intercept
        length = np.log1p(np.array([len(t) for t in texts], dtype=np.float64))
        return np.c_[detector, length, scores.max(axis=1)]

    def ood_probability(
        self, x: sp.csr_matrix, texts: list[str], scores: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Calibrated probability that each text is not a citizen request (None: no gate in this model)."""
        if self.ood_weights is None:
            return None
        coef = np.asarray(self.ood_gate[:-1], dtype=np.float64)
        return sigmoid(self.ood_features(x, texts, scores) @ coef + self.ood_gate[-1])

    def _class_weights(self) -> sp.csr_matrix:
        wt = self.__dict__.get("_wt")
        if wt is None:
            wt = self.weights.T.tocsr()
            wt.sort_indices()
            self.__dict__["_wt"] = wt
        return wt

    def evidence(
        self,
        x_row: sp.csr_matrix | tuple[np.ndarray, np.ndarray],
        class_index: int,
        limit: int = 5,
        exclude: frozenset[str] = frozenset(),
    ) -> list[str]:
        """The words that pushed this class most (证据词); character n-grams only when no word did.

        ``x_row`` is one row of ``transform`` (or its (indices, data) arrays). Words in ``exclude``
        (place names, generic call phrases) are left out."""
        if isinstance(x_row, tuple):
            idx, values = x_row
        else:
            row = x_row.tocsr()
            idx, values = row.indices, row.data
        if idx.size == 0:
            return []
        wt = self._class_weights()
        start, end = wt.indptr[class_index], wt.indptr[class_index + 1]
        w_idx, w_val = wt.indices[start:end], wt.data[start:end]
        pos = np.searchsorted(w_idx, idx)
        pos = np.minimum(pos, max(len(w_idx) - 1, 0))
        hit = (w_idx[pos] == idx) if len(w_idx) else np.zeros(len(idx), dtype=bool)
        contrib = np.where(hit, values * w_val[pos] if len(w_idx) else 0.0, 0.0)
        names = self._names()
        pushing = contrib > 0
        is_word = idx < self.n_word_features
        words = self._best_names(idx, contrib, pushing & is_word, limit, names, exclude, grams=False)
        return words or self._best_names(idx, contrib, pushing & ~is_word, 2, names, exclude, grams=True)

    def _names(self) -> list[str]:
        """``feature_names`` as a list of str, built once (indexing a list is what the evidence loop does)."""
        names = self.__dict__.get("_name_list")
        if names is None:
            names = self.__dict__["_name_list"] = [str(n) for n in self.feature_names]
        return names

    @staticmethod
    def _best_names(
        idx: np.ndarray,
        contrib: np.ndarray,
        keep: np.ndarray,
        limit: int,
        names: list[str],
        exclude: frozenset[str],
        grams: bool,
    ) -> list[str]:
        """The names of the kept features by contribution, best first, skipping excluded and generic ones,
        names shorter than two characters and (``grams``) n-grams with punctuation; at most ``limit``."""
        chosen = np.flatnonzero(keep)
        out: list[str] = []
        for f in idx[chosen[np.argsort(-contrib[chosen], kind="stable")]].tolist():
            name = names[f]
            if name in exclude or name in GENERIC_WORDS or len(name) < 2:
                continue
            if grams:
                if not name.strip() or _PUNCT.search(name):
                    continue
                name = name.strip()
            out.append(name)
            if len(out) >= limit:
                break
        return out


def fit_ood_gate(
    model: MatterModel,
    detector_weights: np.ndarray,
    detector_intercept: float,
    calib_texts: list[str],
    y_calib: np.ndarray,
) -> None:
    """Fit the out-of-domain gate (非诉求识别) into ``model``; ``y_calib`` is 1 for out-of-domain texts.

    Inputs per text:

    1. the detector score: the ``OUT_OF_DOMAIN`` column of the linear model, trained one-vs-rest against
       the requests (also requests wrapped in chit-chat, so that 你好 / 谢谢 alone do not make a request look
       out of domain) — and every matter's column learned in turn that chit-chat words are no evidence;
    2. the length, ln(1 + characters): short utterances (嗯, 喂你好, 谢谢) are the typical non-requests;
    3. coverage: the best matter's raw linear score — a text with no word of any matter scores low for
       all 769 matters, whatever the detector has or has not seen.

    The gate is a logistic regression over those three numbers fitted on the calibration split (stacking;
    for the detector score alone it would be the sigmoid method of ``CalibratedClassifierCV`` on a held-out
    split), both classes weighted equally: 0.5 means the text looks as much like non-request speech as
    like a request. (The share of non-request utterances on a hotline varies by hour and line; the
    generated split's is not it.) The calibration requests include bare ones (井盖丢了) and ones wrapped in
    chit-chat, otherwise the gate learns from the templates that short texts are never requests. At
    prediction time the gate costs one dot product."""
    from sklearn.linear_model import LogisticRegression

    model.ood_weights = np.asarray(detector_weights, dtype=np.float32)
    model.ood_intercept = float(detector_intercept)
    gate = LogisticRegression(C=1.0, solver="lbfgs", class_weight="balanced")
    gate.fit(model.ood_features(model.transform(calib_texts), calib_texts), y_calib)
    model.ood_gate = (*(float(c) for c in gate.coef_[0]), float(gate.intercept_[0]))


def prune(weights: np.ndarray, threshold: float) -> sp.csr_matrix:
    """Drop near-zero weights; store (features × classes) sparse for fast products."""
    w = np.where(np.abs(weights) >= threshold, weights, 0.0).astype(np.float32)
    return sp.csr_matrix(w.T)
