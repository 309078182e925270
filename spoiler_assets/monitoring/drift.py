"""Drift between the training window (reference) and a newer review month (current).

Signals, each tested by Evidently on the same two samples (normed Wasserstein distance
for numbers, Jensen-Shannon for the label):
- text descriptors: review length, lexicon sentiment (the `sentiment` feature's formula,
  `features.text.lexicon_sentiment`), share of words outside the training vocabulary;
- the champion's spoiler probabilities (prediction drift);
- the spoiler label share, where the new month has labels;
- the sentence embeddings (when given), on a bounded sample, because Evidently's report
  projects them with t-SNE for its plot, which grows quadratically with rows.
The decision: drift when at least `min_drifted_signals` signals drift.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import EmbeddingsDrift, ValueDrift
from evidently.metrics.embeddings import DistanceDriftMethod

from spoiler_assets.features.text import lexicon_sentiment
from spoiler_assets.seed import SEED

_WORD = re.compile(r"[a-z']+")
DESCRIPTORS = ("length_words", "sentiment", "oov_share")


@dataclass(frozen=True)
class DriftConfig:
    # Per-signal distance (normed Wasserstein / Jensen-Shannon) counted as drift. Above
    # Evidently's 0.1 default: on months of a few hundred reviews, sampling noise alone
    # reaches 0.1-0.2 (measured on unshifted synthetic months).
    value_threshold: float = 0.25
    # Euclidean distance between mean embeddings: 0.05 on an unshifted synthetic month of
    # 300 reviews, 0.16 on a month with new vocabulary.
    embedding_threshold: float = 0.1
    min_drifted_signals: int = 2
    sample_size: int = 2_000
    embedding_sample_size: int = 300
    seed: int = SEED


@dataclass(frozen=True)
class DriftResult:
    scores: dict[str, float]
    drifted: dict[str, bool]
    drift_detected: bool
    html: dict[str, str]  # Evidently HTML report per part: "signals", "embeddings"
    n_reference: int
    n_current: int
    reasons: list[str] = field(default_factory=list)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def vocabulary(texts: Iterable[str], min_count: int = 2) -> frozenset[str]:
    """Words seen at least `min_count` times in the reference texts."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in words(text):
            counts[word] = counts.get(word, 0) + 1
    return frozenset(w for w, c in counts.items() if c >= min_count)


def text_descriptors(texts: pd.Series, known: frozenset[str]) -> pd.DataFrame:
    """Length in words, lexicon sentiment per word in [-1, 1], share of out-of-vocabulary words."""
    rows = []
    for text in texts:
        tokens = words(text)
        rows.append(
            (
                len(tokens),
                lexicon_sentiment(text),
                sum(t not in known for t in tokens) / len(tokens) if tokens else 0.0,
            )
        )
    return pd.DataFrame(rows, columns=list(DESCRIPTORS), index=texts.index)


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    config: DriftConfig = DriftConfig(),
    reference_embeddings: np.ndarray | None = None,
    current_embeddings: np.ndarray | None = None,
) -> DriftResult:
    """Compare two frames with `review_text`, `spoiler_probability` and `is_spoiler`.

    `is_spoiler` may be all missing in `current` (unlabelled reviews); then the label
    share is not tested. Embeddings, when given, are row-aligned with the frames.
    """
    if current.empty or len(reference) < 2:
        raise ValueError("drift needs reviews in both the reference and the current month")
    rng = np.random.default_rng(config.seed)
    # The vocabulary comes from one half of the reference and the reference descriptors
    # from the other, so "out of vocabulary" means the same thing on both sides.
    order = rng.permutation(len(reference))
    vocab_half, held_half = order[: len(order) // 2], np.sort(order[len(order) // 2 :])
    known = vocabulary(reference["review_text"].iloc[vocab_half])
    ref_idx = held_half[_sample(len(held_half), config.sample_size, rng)]
    cur_idx = _sample(len(current), config.sample_size, rng)
    ref = _signals(reference.iloc[ref_idx], known)
    cur = _signals(current.iloc[cur_idx], known)
    labelled = bool(current["is_spoiler"].notna().all())
    numeric = [*DESCRIPTORS, "spoiler_probability"]
    categorical = ["is_spoiler"] if labelled else []
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report(
        # Methods pinned: Evidently's defaults switch to p-value tests below 1,000 rows,
        # which would turn the scores' meaning upside down for small months.
        [ValueDrift(column=c, method="wasserstein", threshold=config.value_threshold) for c in numeric]
        + [
            ValueDrift(column=c, method="jensenshannon", threshold=config.value_threshold)
            for c in categorical
        ]
    ).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    values = [float(m["value"]) for m in snapshot.dict()["metrics"]]
    scores = dict(zip(numeric + categorical, values, strict=True))
    thresholds = dict.fromkeys(scores, config.value_threshold)
    html = {"signals": snapshot.get_html_str(as_iframe=False)}
    if reference_embeddings is not None and current_embeddings is not None:
        scores["embeddings"], html["embeddings"] = _embedding_drift(
            reference_embeddings, current_embeddings, config, rng
        )
        thresholds["embeddings"] = config.embedding_threshold
    drifted = {k: v >= thresholds[k] for k, v in scores.items()}
    reasons = [f"{k}: {scores[k]:.3f} >= {thresholds[k]}" for k, d in drifted.items() if d]
    return DriftResult(
        scores=scores,
        drifted=drifted,
        drift_detected=sum(drifted.values()) >= config.min_drifted_signals,
        html=html,
        n_reference=len(ref),
        n_current=len(cur),
        reasons=reasons,
    )


def _embedding_drift(
    reference: np.ndarray, current: np.ndarray, config: DriftConfig, rng: np.random.Generator
) -> tuple[float, str]:
    columns = [f"emb_{i}" for i in range(reference.shape[1])]
    ref = pd.DataFrame(reference[_sample(len(reference), config.embedding_sample_size, rng)], columns=columns)
    cur = pd.DataFrame(current[_sample(len(current), config.embedding_sample_size, rng)], columns=columns)
    definition = DataDefinition(numerical_columns=columns, embeddings={"review_embeddings": columns})
    method = DistanceDriftMethod(threshold=config.embedding_threshold, bootstrap=False)
    snapshot = Report([EmbeddingsDrift(embeddings_name="review_embeddings", drift_method=method)]).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    return float(snapshot.dict()["metrics"][0]["value"]), snapshot.get_html_str(as_iframe=False)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(n, size), replace=False))


def _signals(frame: pd.DataFrame, known: frozenset[str]) -> pd.DataFrame:
    out = text_descriptors(frame["review_text"].reset_index(drop=True), known)
    out["spoiler_probability"] = frame["spoiler_probability"].to_numpy(dtype=float)
    out["is_spoiler"] = frame["is_spoiler"].astype("string").to_numpy()
    return out
