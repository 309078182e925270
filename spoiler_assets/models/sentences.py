"""Sentence-level spoiler scores: spans that tile a review, and the model that scores them.

Why multiple-instance learning (MIL) on TF-IDF, not distillation of the champion:
- Only review labels exist for training. A spoiler review is a bag of sentences of which
  at least one spoils; a clean review's sentences are all clean. MI-max-style MIL learns
  exactly that: start from the bag labels, then, in each spoiler review, keep as spoiler
  only the sentence the current model ranks highest (the witness) and refit, a few
  rounds. On the demo corpus this separates the revealing sentence from the filler around
  it, where plain label propagation (every sentence gets its review's label) ranks whole
  reviews slightly better but scores "The acting is solid." like the spoiler next to it.
- Distilling the champion would teach a sentence model to copy a *review* model applied
  to lone sentences, which is the naive approach that `sentence_evaluation` measures
  against; and scoring every training sentence with a transformer or a feature-store
  model costs minutes on a CPU, where this trains in seconds on the demo corpus.
- It needs nothing but the text, so it pairs with whichever model is champion (hybrid
  models need a feature store, the transformer a GPU to be fast) and serves in about a
  millisecond per review.

The sentence threshold is tuned like the review models' ones, on the validation
reviews: a review is called a spoiler when its best sentence reaches it (max F1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

from spoiler_assets.models.baseline import hashed_tfidf_steps
from spoiler_assets.models.metrics import tune_threshold
from spoiler_assets.seed import SEED

# Registered beside the review champion: `<model name>-sentences`, alias `champion`.
SENTENCE_MODEL_SUFFIX = "-sentences"

# A sentence ends after terminal punctuation (an ellipsis included) and any closing
# quotes or brackets, where whitespace follows; or at a line break.
_TERMINAL = re.compile(r"(?:[.!?\u2026\u203d]+)[\"'\u201d\u2019\u00bb)\]]*(?=\s)")
# A review whose paragraphs were glued ("the end.The next"), as the Kaggle files have.
_GLUED = re.compile(r"(?<=[a-z0-9][.!?])(?=[A-Z][a-z]|I\s)")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)\.$")
# Abbreviations that end in a full stop without ending the sentence ("Dr. Lecter").
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "vs", "jr", "sr", "prof", "mt", "no", "vol", "ch"})


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans `[start, end)` of the sentences of `text`, in order.

    The spans tile the text exactly: the first starts at 0, each starts where the previous
    one ends, the last ends at `len(text)`; whitespace after a sentence belongs to it
    (leading whitespace to the first). Offsets count Unicode code points (Python `str`
    indices), so an emoji is one character. An empty text has no spans.
    """
    n = len(text)
    if n == 0:
        return []
    cuts: set[int] = set()
    for match in _TERMINAL.finditer(text):
        after = _skip_space(text, match.end())
        if after >= n or _is_abbreviation(text, match):
            continue
        # "Wait... what" is one sentence; "It ends. then" is two (reviews skip capitals).
        if text[after].islower() and ("\u2026" in match.group(0) or ".." in match.group(0)):
            continue
        cuts.add(after)
    for match in re.finditer(r"\n\s*", text):
        after = match.end()
        if after < n:
            cuts.add(after)
    cuts.update(m.start() for m in _GLUED.finditer(text))
    bounds = [0, *sorted(c for c in cuts if 0 < c < n), n]
    # A cut inside leading whitespace would leave a blank first span: merge it forward.
    spans = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]
    if len(spans) > 1 and not text[spans[0][0] : spans[0][1]].strip():
        spans[1] = (0, spans[1][1])
        spans = spans[1:]
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped (blank pieces dropped); for training and scoring."""
    pieces = (text[a:b].strip() for a, b in sentence_spans(text))
    return [p for p in pieces if p]


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _is_abbreviation(text: str, match: re.Match[str]) -> bool:
    if match.group(0) != ".":
        return False
    word = _WORD_BEFORE.search(text, max(0, match.start() - 12), match.end())
    if word is None:
        return False
    token = word.group(1)
    # "J. K. Rowling", "e.g.": a lone letter before the stop is an initial or an abbreviation.
    return token.lower() in _ABBREVIATIONS or len(token) == 1


class SentenceParams(BaseModel):
    """Hyper-parameters of the sentence model; `SentenceModelConfig` (its run config) inherits them."""

    model_config = ConfigDict(frozen=True)

    hash_bits: int = Field(default=18, description="log2 of the hashed n-gram columns")
    ngram_max: int = Field(default=2, description="Longest word n-gram")
    alpha: float = Field(default=1e-5, description="L2 penalty of the SGD logistic loss")
    epochs: int = Field(default=10, description="SGD epochs per fit")
    mil_rounds: int = Field(default=3, description="Relabelling rounds of MIL")
    seed: int = Field(default=SEED, description="Random seed")


@dataclass
class SentenceModel:
    """TF-IDF + logistic regression on single sentences, trained by MIL from review labels.

    `threshold` applies to a sentence's probability; a review's score is its best sentence's.
    """

    pipeline: Pipeline
    threshold: float
    name: str = "sentence_tfidf_mil"

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        """Review-level score (a `SpoilerClassifier`): each review's best sentence."""
        return self.review_scores(reviews["review_text"].astype(str).tolist())

    def predict_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        """Spoiler probability of each sentence (empty input, empty output)."""
        if not sentences:
            return np.zeros(0, dtype=float)
        return np.asarray(self.pipeline.predict_proba(list(sentences))[:, 1], dtype=float)

    def score_review(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The spans of `text` and each one's probability (a blank span scores 0)."""
        spans = sentence_spans(text)
        pieces = [text[a:b].strip() for a, b in spans]
        proba = np.zeros(len(spans), dtype=float)
        filled = [i for i, p in enumerate(pieces) if p]
        proba[filled] = self.predict_sentences([pieces[i] for i in filled])
        return spans, proba

    def review_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Each review's best sentence probability (the review-level MIL score)."""
        bags = [split_sentences(t) or [t] for t in texts]
        proba = self.predict_sentences([s for bag in bags for s in bag])
        ends = np.cumsum([len(bag) for bag in bags])
        return np.array([proba[a:b].max() for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)])


def _pipeline(params: SentenceParams) -> Pipeline:
    return Pipeline(
        [
            *hashed_tfidf_steps(params.hash_bits, params.ngram_max),
            # Logistic loss by SGD: a MIL round refits on ~100k sentences, which
            # lbfgs takes 10+ s to do on 2 cores and a few epochs of SGD 1-2 s.
            (
                "lr",
                SGDClassifier(
                    loss="log_loss",
                    alpha=params.alpha,
                    class_weight="balanced",
                    max_iter=params.epochs,
                    tol=None,
                    random_state=params.seed,
                ),
            ),
        ]
    )


def _bags(reviews: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sentences of all reviews, each one's review index, and the review labels."""
    sentences: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(reviews["review_text"].astype(str)):
        bag = split_sentences(text) or [text]
        sentences += bag
        owner += [i] * len(bag)
    return sentences, np.asarray(owner), reviews["is_spoiler"].to_numpy(dtype=bool)


def train_sentence_model(train: pd.DataFrame, valid: pd.DataFrame, params: SentenceParams) -> SentenceModel:
    """MIL from review labels (see the module docstring); the threshold maximises the
    review-level F1 on `valid` with each review scored by its best sentence."""
    sentences, owner, bag_labels = _bags(train)
    pipeline = _pipeline(params)
    hashing, tfidf, lr = (step for _, step in pipeline.steps)
    features: sparse.csr_matrix = tfidf.fit_transform(hashing.transform(sentences))
    labels = bag_labels[owner]
    in_spoiler_bag = labels.copy()
    for _ in range(params.mil_rounds):
        lr.fit(features, labels.astype(int))
        proba = lr.predict_proba(features)[:, 1]
        # MI-max: each spoiler review's most spoiling sentence is its witness, every other
        # sentence counts as clean. Keeping all sentences above 0.5 instead lets filler
        # that merely co-occurs with spoilers ("stayed with me for days") win.
        best = pd.Series(proba[in_spoiler_bag]).groupby(owner[in_spoiler_bag]).idxmax().to_numpy()
        labels = np.zeros_like(in_spoiler_bag)
        labels[np.flatnonzero(in_spoiler_bag)[best]] = True
    lr.fit(features, labels.astype(int))
    model = SentenceModel(pipeline=pipeline, threshold=0.5)
    valid_labels = valid["is_spoiler"].to_numpy(dtype=bool)
    model.threshold = tune_threshold(
        valid_labels, model.review_scores(valid["review_text"].astype(str).tolist())
    )
    return model
