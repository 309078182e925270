import numpy as np
import pandas as pd
import pytest

from spoiler_assets.features.text import lexicon_sentiment
from spoiler_assets.monitoring.drift import DriftConfig, compute_drift, text_descriptors, vocabulary

WORDS = [
    "the",
    "film",
    "story",
    "actor",
    "scene",
    "plot",
    "music",
    "ending",
    "character",
    "director",
    "great",
    "bad",
]
OTHER = ["zorp", "blick", "quund", "frabble", "snerk", "vint", "glomp", "trazz", "welk", "dunt"]


def _reviews(n: int, seed: int, vocab: list[str], spoiler_share: float, proba_mean: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(vocab, size=rng.integers(20, 80))) for _ in range(n)]
    return pd.DataFrame(
        {
            "review_text": texts,
            "is_spoiler": rng.random(n) < spoiler_share,
            "spoiler_probability": np.clip(rng.normal(proba_mean, 0.1, n), 0, 1),
        }
    )


def test_descriptors_count_length_sentiment_and_unknown_words() -> None:
    known = vocabulary(["a great film", "a great film"], min_count=2)
    row = text_descriptors(pd.Series(["A great zorp film"]), known).iloc[0]
    # sentiment per word, as the `sentiment` feature: one positive word in four
    assert (row["length_words"], row["sentiment"], row["oov_share"]) == (4, 0.25, 0.25)


def test_descriptor_sentiment_is_the_feature_sentiment() -> None:
    texts = pd.Series(["Not good at all, a dull mess.", "A great film, truly moving!"])
    descriptors = text_descriptors(texts, frozenset())
    assert descriptors["sentiment"].tolist() == [lexicon_sentiment(t) for t in texts]
    assert descriptors["sentiment"].tolist() == [-3 / 7, 2 / 5]


def test_same_distribution_is_not_drift() -> None:
    result = compute_drift(_reviews(1500, 1, WORDS, 0.26, 0.3), _reviews(400, 2, WORDS, 0.26, 0.3))
    assert not result.drift_detected, result.scores


def test_new_vocabulary_and_spoiler_share_is_drift() -> None:
    result = compute_drift(_reviews(1500, 1, WORDS, 0.26, 0.3), _reviews(400, 2, OTHER, 0.6, 0.6))
    assert result.drift_detected
    assert {"oov_share", "is_spoiler", "spoiler_probability"} <= {k for k, v in result.drifted.items() if v}
    assert "<html" in result.html["signals"].lower()


def test_unlabelled_month_skips_label_drift() -> None:
    current = _reviews(300, 2, WORDS, 0.26, 0.3).assign(is_spoiler=None)
    assert "is_spoiler" not in compute_drift(_reviews(800, 1, WORDS, 0.26, 0.3), current).scores


def test_embedding_drift_is_measured_when_embeddings_are_given() -> None:
    rng = np.random.default_rng(0)
    ref, cur = _reviews(500, 1, WORDS, 0.26, 0.3), _reviews(200, 2, WORDS, 0.26, 0.3)
    config = DriftConfig(embedding_sample_size=100)
    shifted = compute_drift(ref, cur, config, rng.normal(0, 1, (500, 8)), rng.normal(1.5, 1, (200, 8)))
    assert shifted.drifted["embeddings"] and "embeddings" in shifted.html


def test_empty_month_is_refused() -> None:
    with pytest.raises(ValueError, match="both the reference and the current"):
        compute_drift(_reviews(100, 1, WORDS, 0.26, 0.3), _reviews(100, 1, WORDS, 0.26, 0.3).head(0))
