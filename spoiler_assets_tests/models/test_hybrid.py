"""The hybrid models on hand-made inputs: missing values, imbalance, pickling."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from spoiler_assets.assets.hybrid import EmbeddingConfig, MLPConfig, XGBoostConfig
from spoiler_assets.features.schema import MODEL_FEATURES, MOVIE_FEATURES, USER_FEATURES
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.models.embeddings import EMBEDDING_DIM, EncoderSpec, ReviewEmbeddings
from spoiler_assets.models.hybrid import (
    FeatureStoreClassifier,
    HybridInputs,
    HybridSplit,
    training_split,
    validation_scores,
)
from spoiler_assets.models.hybrid_mlp import MLPParams, train_mlp
from spoiler_assets.models.hybrid_xgboost import XGBoostParams, positive_weight, train_xgboost
from spoiler_assets.models.ray_batches import EmbeddingParams

SPEC = FeatureStoreSpec(
    project="p", root_uri="/tmp/none", local_dir="/tmp/none", redis_url="redis://:secret@h:1/0"
)


def split(n: int, seed: int) -> HybridSplit:
    """Spoilers are the users with a high earlier spoiler share; a quarter of the users
    and movies are unknown (NaN)."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(rng.normal(size=(n, len(MODEL_FEATURES))), columns=list(MODEL_FEATURES))
    share = rng.random(n)
    features["user_prior_spoiler_share"] = share
    unknown = rng.random(n) < 0.25
    features.loc[unknown, list(USER_FEATURES)] = np.nan
    features.loc[rng.random(n) < 0.25, list(MOVIE_FEATURES)] = np.nan
    labels = np.where(unknown, rng.random(n) < 0.26, share > 0.7)
    embeddings = rng.normal(size=(n, EMBEDDING_DIM)).astype(np.float32) / 20
    return HybridSplit(features, embeddings, labels)


@pytest.fixture(scope="module")
def data() -> tuple[HybridSplit, HybridSplit]:
    return split(600, 1), split(300, 2)


def inputs() -> HybridInputs:
    return HybridInputs(store=SPEC, encoder=EncoderSpec())


@pytest.mark.parametrize(
    "train",
    [
        lambda tr, va: train_xgboost(tr, va, inputs(), XGBoostParams(n_estimators=60)),
        lambda tr, va: train_mlp(tr, va, inputs(), MLPParams(max_epochs=15)),
    ],
    ids=["xgboost", "mlp"],
)
def test_learns_from_features_and_scores_missing_ones(train, data) -> None:  # type: ignore[no-untyped-def]
    train_split, valid_split = data
    model = train(train_split, valid_split)
    proba = model.score_inputs(valid_split.features, valid_split.embeddings)
    known = ~valid_split.features["user_prior_spoiler_share"].isna().to_numpy()
    assert np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all()
    assert roc_auc_score(valid_split.labels[known], proba[known]) > 0.9
    assert 0 < model.threshold < 1 and isinstance(model, FeatureStoreClassifier)
    scores = validation_scores(model, valid_split)
    assert scores["valid_roc_auc"] == roc_auc_score(valid_split.labels, proba)
    assert set(scores) == {"valid_pr_auc", "valid_roc_auc"}

    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.score_inputs(valid_split.features, valid_split.embeddings), proba)
    assert b"feast.feature_store" not in pickle.dumps(model)  # specs only, no live store


def test_positive_weight_balances_the_classes() -> None:
    assert positive_weight(np.array([1, 0, 0, 0])) == 3.0
    with pytest.raises(ValueError, match="both"):
        positive_weight(np.zeros(4))


def test_binding_a_store_replaces_the_pickled_one(data) -> None:  # type: ignore[no-untyped-def]
    model = train_xgboost(*data, inputs(), XGBoostParams(n_estimators=5))
    serving = FeatureStoreSpec(
        project="p", root_uri="s3://b/fs", local_dir="/srv", redis_url="redis://r:6379/0"
    )
    model.bind_feature_store(serving)
    assert model.inputs.store == serving


def test_a_training_split_holds_its_rows_with_their_embeddings() -> None:
    dataset = pd.DataFrame({feature: [0.0, 1.0, 2.0] for feature in MODEL_FEATURES}).assign(
        review_id=["a", "b", "c"], split=["train", "valid", "valid"], is_spoiler=[1, 0, 1]
    )
    vectors = np.eye(3, EMBEDDING_DIM, dtype=np.float32)
    parts = [ReviewEmbeddings(np.array(["c", "b", "a"]), np.array(["z", "y", "x"]), vectors, EncoderSpec())]

    valid = training_split(dataset, parts, "valid")

    assert len(valid) == 2 and valid.labels.tolist() == [False, True]
    assert valid.features.columns.tolist() == list(MODEL_FEATURES)
    np.testing.assert_array_equal(valid.embeddings, vectors[[1, 0]])


def test_run_configs_default_to_their_params_and_build_them() -> None:
    assert XGBoostConfig().params() == XGBoostParams()
    assert MLPConfig().params() == MLPParams()
    assert MLPConfig(hidden=[8]).params().hidden == (8,)
    assert EmbeddingConfig().params() == EmbeddingParams()
