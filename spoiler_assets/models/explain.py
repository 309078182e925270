"""Which n-grams pushed a linear TF-IDF model's score toward spoiler, with their weights.

The TF-IDF models hash their n-grams (no vocabulary is kept), so the strings are
recovered from the text at hand: its own n-grams are re-hashed with the model's
vectorizer settings, which is exact for that text. Two n-grams of one text that share a
hashed column (rare at 2**18+ columns) share that column's weight and are both listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class NgramWeight:
    """An n-gram of the text and its contribution to the model's logit (tf-idf x coefficient)."""

    ngram: str
    weight: float


def explainable_pipeline(model: Any) -> Pipeline | None:
    """The model's [HashingVectorizer, TfidfTransformer, linear classifier] pipeline, or
    None when the model has no per-n-gram weights (embeddings, trees, transformers)."""
    pipeline = getattr(model, "pipeline", None)
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 3:
        return None
    hashing, tfidf, linear = (step for _, step in pipeline.steps)
    if not isinstance(hashing, HashingVectorizer) or not isinstance(tfidf, TfidfTransformer):
        return None
    coef = getattr(linear, "coef_", None)
    if coef is None or np.asarray(coef).shape[0] != 1 or hashing.alternate_sign:
        return None
    return pipeline


def top_spoiler_ngrams(pipeline: Pipeline, text: str, k: int = 5) -> list[NgramWeight]:
    """The at most `k` n-grams of `text` with the largest positive contribution to the
    spoiler logit, largest first (none when nothing in the text points toward spoiler)."""
    hashing, tfidf, linear = (step for _, step in pipeline.steps)
    grams = list(dict.fromkeys(hashing.build_analyzer()(text)))
    if not grams:
        return []
    row = tfidf.transform(hashing.transform([text]))
    values = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
    coef = np.asarray(linear.coef_, dtype=float)[0]
    columns = _columns(grams, hashing.n_features)
    weights = [values.get(col, 0.0) * coef[col] for col in columns]
    ranked = sorted(
        (NgramWeight(g, float(w)) for g, w in zip(grams, weights, strict=True) if w > 0),
        key=lambda nw: -nw.weight,
    )
    return ranked[:k]


def _columns(grams: list[str], n_features: int) -> list[int]:
    """The hashed column of each n-gram, exactly as HashingVectorizer computes it."""
    hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
    matrix = hasher.transform([[g] for g in grams]).tocsr()
    return [int(matrix.indices[matrix.indptr[i]]) for i in range(len(grams))]
