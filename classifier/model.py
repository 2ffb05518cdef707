"""The matter model (事项分类模型): jieba words + character n-grams, TF-IDF, a linear model with
temperature-scaled softmax scores. Pure numpy/scipy at prediction time; pickled with joblib."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.text import cut

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
_PUNCT = __import__("re").compile(r"[\s，。！？、,.!?；;：:]")


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

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr")

    def decision(self, x: sp.csr_matrix) -> np.ndarray:
        return np.asarray((x @ self.weights).toarray()) + self.intercept

    def predict(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        x = self.transform(texts)
        return x, softmax(self.decision(x), self.temperature)

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
        order = np.argsort(-contrib)
        words: list[str] = []
        grams: list[str] = []
        for k in order:
            if contrib[k] <= 0:
                break
            f = int(idx[k])
            name = str(self.feature_names[f])
            if name in exclude or name in GENERIC_WORDS:
                continue
            if f < self.n_word_features:
                if len(name) >= 2:
                    words.append(name)
            elif len(name) >= 2 and name.strip() and not _PUNCT.search(name):
                grams.append(name.strip())
            if len(words) >= limit:
                break
        return words[:limit] if words else grams[:2]


def prune(weights: np.ndarray, threshold: float) -> sp.csr_matrix:
    """Drop near-zero weights; store (features × classes) sparse for fast products."""
    w = np.where(np.abs(weights) >= threshold, weights, 0.0).astype(np.float32)
    return sp.csr_matrix(w.T)
