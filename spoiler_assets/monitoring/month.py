"""One review month under the champion: its predictions, its drift against the
training window, and its performance where it carries labels.

The functions `batch_predictions` and `drift_report` call; no Dagster here.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from spoiler_assets.models.base import SpoilerClassifier, labelled_probabilities
from spoiler_assets.models.embeddings import EncoderSpec, encode_remembered, text_digest
from spoiler_assets.monitoring.drift import DriftConfig, DriftResult, compute_drift
from spoiler_assets.monitoring.performance import (
    PerformanceConfig,
    PerformanceResult,
    performance_on_month,
    reference_figures,
)

PREDICTION_COLUMNS = [
    "review_id", "review_date", "movie_id", "user_id", "review_text", "is_spoiler",
    "spoiler_probability", "predicted_spoiler", "model_name", "model_version",
]  # fmt: skip

# Drift compares samples with one fixed descriptor, whatever the models were trained on:
# the embedding threshold (0.1) was set from months measured with 128-token vectors.
DRIFT_ENCODER = EncoderSpec(max_seq_length=128)


def predictions_frame(
    reviews: pd.DataFrame, proba: np.ndarray, threshold: float, model_name: str, model_version: str
) -> pd.DataFrame:
    """The month's reviews with the champion's probability, decision and version
    (`PREDICTION_COLUMNS`)."""
    scored = reviews.assign(spoiler_probability=proba, model_name=model_name, model_version=model_version)
    scored["predicted_spoiler"] = scored["spoiler_probability"] >= threshold
    return scored[PREDICTION_COLUMNS]


def held_out_reference(review_split: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A sample of the held-out reviews (validation + test): the newest window the model
    was built and judged on, and one where its probabilities are not inflated by having
    seen them."""
    reference = review_split[review_split["split"] != "train"]
    return reference.sample(min(len(reference), size), random_state=seed)


def embed_sample(frame: pd.DataFrame, size: int, seed: int) -> np.ndarray:
    """`DRIFT_ENCODER` embeddings of up to `size` reviews of `frame`."""
    sample = frame.sample(min(len(frame), size), random_state=seed)["review_text"].tolist()
    vectors, _ = encode_remembered(sample, [text_digest(t) for t in sample], DRIFT_ENCODER)
    return vectors


def drift_of_month(
    review_split: pd.DataFrame,
    predictions: pd.DataFrame,
    classifier: SpoilerClassifier,
    config: DriftConfig,
) -> DriftResult:
    """The month's predictions against held-out reviews the same champion scores (point
    in time); embeddings of both sides unless `config.embedding_sample_size` is 0."""
    reference = held_out_reference(review_split, config.sample_size, config.seed)
    reference = reference.assign(spoiler_probability=labelled_probabilities(classifier, reference))
    size = config.embedding_sample_size
    if not size:
        return compute_drift(reference, predictions, config)
    reference_vectors, current_vectors = (
        embed_sample(frame, size, config.seed) for frame in (reference, predictions)
    )
    return compute_drift(reference, predictions, config, reference_vectors, current_vectors)


def performance_of_month(
    predictions: pd.DataFrame, threshold: float, champion_tags: Mapping[str, str], config: PerformanceConfig
) -> PerformanceResult | None:
    """The champion on the month's labels against its recorded test figures, or None for
    a month without labels."""
    if not predictions["is_spoiler"].notna().all():
        return None
    return performance_on_month(
        predictions["is_spoiler"].to_numpy(dtype=bool),
        predictions["spoiler_probability"].to_numpy(dtype=float),
        threshold,
        reference_figures(champion_tags),
        config,
    )
