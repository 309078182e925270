"""Sentence-level figures on real labels: the Goodreads spoiler sentences (Wan et al., 2019).

Cross-domain on purpose: the models learn from movie reviews (IMDB or the SYNTHETIC
corpus) and are judged on book-review sentences, the only real sentence-level spoiler
labels at hand. The sentence model is compared with the naive approach, each sentence
scored alone by a review-level model, on the same sentences in the same run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spoiler_assets.models.metrics import ranking_scores
from spoiler_assets.seed import SEED

GOODREADS_FILE = "validation_10000.json"
_ROOT = "<ROOT> "
# The file holds Penn-Treebank tokens ("did n't", "`` indie kids , ''"); joined back
# into ordinary text so that the models see the spelling they were trained on.
_DETOKENIZE = (
    (re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", re.IGNORECASE), r"\1"),
    (re.compile(r"``\s*|\s*''"), '"'),
    (re.compile(r" ([.,!?;:%)\]}])"), r"\1"),
    (re.compile(r"([(\[{$]) "), r"\1"),
    (re.compile(r"-LRB-\s*"), "("),
    (re.compile(r"\s*-RRB-"), ")"),
)


def detokenize(tokens: str) -> str:
    """Treebank-tokenised text back to plain spelling (approximate, deterministic)."""
    text = tokens
    for pattern, replacement in _DETOKENIZE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def load_goodreads_sentences(folder: Path) -> pd.DataFrame:
    """The labelled sentences: columns `sentence` (detokenised) and `is_spoiler`.

    Raises FileNotFoundError when the file is absent, ValueError on a malformed row.
    """
    path = folder / GOODREADS_FILE
    rows = json.loads(path.read_text(encoding="utf-8"))["data"]
    sentences, labels = [], []
    for i, row in enumerate(rows):
        fields = row.split("\t")
        if len(fields) < 2 or not fields[0].startswith(_ROOT) or fields[1] not in ("0", "1"):
            raise ValueError(f"{path} row {i}: expected '<ROOT> text<TAB>0|1<TAB>...', got {row[:80]!r}")
        sentences.append(detokenize(fields[0][len(_ROOT) :]))
        labels.append(fields[1] == "1")
    return pd.DataFrame({"sentence": sentences, "is_spoiler": labels})


@dataclass(frozen=True)
class SentenceScore:
    """One approach's ranking quality on the labelled sentences."""

    approach: str
    model: str
    roc_auc: float
    pr_auc: float
    n_sentences: int
    n_spoilers: int
    seconds: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def evaluate_sentence_scorers(
    sentences: pd.DataFrame,
    scorers: Mapping[str, tuple[str, Callable[[Sequence[str]], np.ndarray]]],
) -> pd.DataFrame:
    """ROC-AUC and PR-AUC of each scorer on `sentences`, best PR-AUC first.

    Args:
        sentences: `sentence` and `is_spoiler` columns.
        scorers: approach name -> (model name, function from sentence texts to probabilities).
    """
    import time

    labels = sentences["is_spoiler"].to_numpy(dtype=bool)
    if labels.all() or not labels.any():
        raise ValueError("sentence evaluation needs both spoiler and clean sentences")
    texts = sentences["sentence"].tolist()
    scores = []
    for approach, (model, scorer) in scorers.items():
        started = time.perf_counter()
        proba = np.asarray(scorer(texts), dtype=float)
        if proba.shape != labels.shape:
            raise ValueError(f"{approach} returned {proba.shape} scores for {labels.shape[0]} sentences")
        ranking = ranking_scores(labels, proba)
        scores.append(
            SentenceScore(
                approach=approach,
                model=model,
                roc_auc=ranking["roc_auc"],
                pr_auc=ranking["pr_auc"],
                n_sentences=len(labels),
                n_spoilers=int(labels.sum()),
                seconds=round(time.perf_counter() - started, 2),
            ).as_dict()
        )
    return pd.DataFrame(scores).sort_values("pr_auc", ascending=False).reset_index(drop=True)


@dataclass(frozen=True)
class SentenceSample:
    """Which of the labelled sentences are scored."""

    max_sentences: int | None = None  # None: all of them
    seed: int = SEED


def sample_sentences(sentences: pd.DataFrame, sample: SentenceSample) -> pd.DataFrame:
    """At most `sample.max_sentences` sentences drawn uniformly (seeded), so the spoiler
    share is kept."""
    limit = sample.max_sentences
    if limit is None or limit >= len(sentences):
        return sentences
    return sentences.sample(n=limit, random_state=sample.seed).reset_index(drop=True)
