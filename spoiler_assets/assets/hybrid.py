"""Sentence embeddings and the two hybrid models (XGBoost, MLP) on [embedding + Feast
features]; both compete in `model_comparison`."""

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.metrics import average_precision_score, roc_auc_score

from spoiler_assets.assets.training import TRAINING
from spoiler_assets.features.schema import FEATURE_SERVICE, MODEL_FEATURES
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.embeddings import (
    EMBEDDING_DIM,
    EncoderSpec,
    ReviewEmbeddings,
    encode_remembered,
    lookup_embeddings,
    text_digest,
)
from spoiler_assets.models.hybrid import HybridInputs, HybridSplit
from spoiler_assets.models.hybrid_mlp import MLPParams, MLPSpoilerModel, train_mlp
from spoiler_assets.models.hybrid_xgboost import XGBoostParams, XGBoostSpoilerModel, train_xgboost
from spoiler_assets.resources.feature_store import EmbeddingCacheResource, FeatureStoreResource
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

EMBEDDINGS = "embeddings"
HybridModel = XGBoostSpoilerModel | MLPSpoilerModel


class EmbeddingConfig(dg.Config):
    model_path: str = Field(
        default="", description="Local SentenceTransformer checkpoint; empty: packaged MiniLM"
    )
    max_seq_length: int = Field(
        default=256,
        description=(
            "Tokens per review the encoder reads: 256 is the checkpoint's own; 128 is 2x faster on"
            " a CPU but its vectors differ (cosine 0.93 on average to the 256-token ones)"
        ),
    )
    batch_size: int = Field(default=32, description="Reviews per encoder batch (length-bucketed)")


def build_review_embeddings(partitions_def: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    """`review_embeddings` over the review months that the settings define."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=EMBEDDINGS,
        kinds={"pytorch", "numpy"},
    )
    def review_embeddings(
        context: dg.AssetExecutionContext,
        config: EmbeddingConfig,
        cleaned_reviews: pd.DataFrame,
        embedding_cache: EmbeddingCacheResource,
        review_source: ReviewSourceResource,
    ) -> dg.Output[Any]:
        """all-MiniLM-L6-v2 embeddings of each review (float32, 384 dimensions), one
        matrix per review month. Texts already embedded with the same encoder (same
        digest in the cache) are not encoded again."""
        spec = EncoderSpec(config.model_path or None, config.max_seq_length, config.batch_size)
        month_of = cleaned_reviews["review_date"].dt.strftime("%Y-%m-01")
        months = {m: cleaned_reviews[month_of == m] for m in context.partition_keys}
        digests = {m: rows["review_text"].map(text_digest).to_numpy(dtype=str) for m, rows in months.items()}
        cached = {m: embedding_cache.load(spec.tag, m) for m in months}
        todo = [(m, i) for m in months for i, d in enumerate(digests[m]) if d not in cached[m]]
        texts = [months[m]["review_text"].iloc[i] for m, i in todo]
        n_cached = sum(len(d) for d in digests.values()) - len(todo)
        context.log.info(f"{spec.tag}: {n_cached:,} reviews cached, {len(texts):,} to embed")
        vectors, n_encoded = encode_remembered(
            texts, [digests[m][i] for m, i in todo], spec, progress=_log_progress(context)
        )
        for (m, i), vector in zip(todo, vectors, strict=True):
            cached[m][digests[m][i]] = vector
        out: dict[str, ReviewEmbeddings] = {}
        changed = {m for m, _ in todo}
        for m, rows in months.items():
            matrix = (
                np.stack([cached[m][d] for d in digests[m]])
                if len(rows)
                else np.zeros((0, EMBEDDING_DIM), np.float32)
            )
            out[m] = ReviewEmbeddings(rows["review_id"].to_numpy(dtype=str), digests[m], matrix, spec)
            if m in changed:
                embedding_cache.save(spec.tag, m, digests[m], matrix)
        metadata: dict[str, Any] = {
            "corpus": review_source.corpus_label(),
            "encoder": spec.tag,
            "reviews": sum(len(e) for e in out.values()),
            "encoded_now": n_encoded,
            "from_cache": len(texts) - n_encoded + n_cached,
        }
        return dg.Output(out[next(iter(out))] if len(out) == 1 else out, metadata=metadata)

    return review_embeddings


def _log_progress(context: dg.AssetExecutionContext) -> Callable[[int, int, float], None]:
    def log(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        context.log.info(f"embedded {done:,}/{total:,} reviews ({rate:.0f}/s, {eta:.0f}s left)")

    return log


def _embedding_parts(value: Any) -> list[ReviewEmbeddings]:
    # An unpartitioned asset reading a partitioned one receives {partition: value}, or
    # the bare value when the partitions definition holds a single partition.
    return list(value.values()) if isinstance(value, Mapping) else [value]


def _split(dataset: pd.DataFrame, parts: list[ReviewEmbeddings], name: str) -> HybridSplit:
    rows = dataset[dataset["split"] == name]
    return HybridSplit(
        features=rows[list(MODEL_FEATURES)],
        embeddings=lookup_embeddings(parts, rows["review_id"].tolist()),
        labels=rows["is_spoiler"].to_numpy(dtype=bool),
    )


def _train_and_log(
    context: dg.AssetExecutionContext,
    asset_name: str,
    params: Any,
    training_dataset: pd.DataFrame,
    review_embeddings: Any,
    feature_store: FeatureStoreResource,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
    train: Callable[[HybridSplit, HybridSplit, HybridInputs], HybridModel],
) -> dg.Output[TrainedModel]:
    parts = _embedding_parts(review_embeddings)
    train_split, valid_split = (_split(training_dataset, parts, s) for s in ("train", "valid"))
    encoder = next(p.encoder for p in parts)
    inputs = HybridInputs(store=feature_store.spec(), encoder=encoder)
    corpus = review_source.corpus_label()
    tags = {"corpus": corpus, "dagster_run_id": context.run.run_id, "feature_service": FEATURE_SERVICE}
    with mlflow_tracking.start_run(asset_name, tags=tags) as run:
        context.log.info(f"fitting {asset_name} on {len(train_split):,} reviews ({encoder.tag} + features)")
        model = train(train_split, valid_split, inputs)
        # Validation scores from the training features (historical retrieval).
        proba = model.score_inputs(valid_split.features, valid_split.embeddings)
        valid = {
            "valid_pr_auc": float(average_precision_score(valid_split.labels, proba)),
            "valid_roc_auc": float(roc_auc_score(valid_split.labels, proba)),
        }
        mlflow.log_params({**asdict(params), "encoder": encoder.tag, "feature_service": FEATURE_SERVICE})
        mlflow.log_metrics(valid)
        model_uri = mlflow_tracking.log_classifier(model)
    return dg.Output(
        TrainedModel(classifier=model, run_id=run.info.run_id, model_uri=model_uri, corpus=corpus),
        metadata={
            "corpus": corpus,
            "mlflow_run": mlflow_tracking.run_url(run.info.run_id),
            "threshold": model.threshold,
            **valid,
            "train_rows": len(train_split),
            "encoder": encoder.tag,
            "feature_service": FEATURE_SERVICE,
        },
    )


class XGBoostConfig(dg.Config):
    n_estimators: int = Field(default=400, description="Most boosting rounds (early stopping on valid)")
    max_depth: int = Field(default=5, description="Tree depth")
    learning_rate: float = Field(default=0.05, description="Shrinkage")
    colsample_bytree: float = Field(default=0.5, description="Share of columns per tree")
    seed: int = Field(default=7, description="Random seed")


@dg.asset(group_name=TRAINING, kinds={"xgboost", "mlflow"}, deps=["online_features"])
def xgboost_model(
    context: dg.AssetExecutionContext,
    config: XGBoostConfig,
    training_dataset: pd.DataFrame,
    review_embeddings: Any,
    feature_store: FeatureStoreResource,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
) -> dg.Output[TrainedModel]:
    """XGBoost on [sentence embedding + hybrid_v1 features], `scale_pos_weight` for the
    imbalance, NaN for missing features; serves features from the online store."""
    params = XGBoostParams(
        n_estimators=config.n_estimators,
        max_depth=config.max_depth,
        learning_rate=config.learning_rate,
        colsample_bytree=config.colsample_bytree,
        seed=config.seed,
    )
    return _train_and_log(
        context, "xgboost_model", params, training_dataset, review_embeddings, feature_store,
        mlflow_tracking, review_source, lambda tr, va, inp: train_xgboost(tr, va, inp, params),
    )  # fmt: skip


class MLPConfig(dg.Config):
    hidden: list[int] = Field(default=[256, 64], description="Hidden layer widths")
    dropout: float = Field(default=0.2, description="Dropout after each hidden layer")
    learning_rate: float = Field(default=1e-3, description="AdamW learning rate")
    max_epochs: int = Field(default=40, description="Most epochs (early stopping on valid PR-AUC)")
    seed: int = Field(default=7, description="Random seed")


@dg.asset(group_name=TRAINING, kinds={"pytorch", "mlflow"}, deps=["online_features"])
def mlp_model(
    context: dg.AssetExecutionContext,
    config: MLPConfig,
    training_dataset: pd.DataFrame,
    review_embeddings: Any,
    feature_store: FeatureStoreResource,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
) -> dg.Output[TrainedModel]:
    """PyTorch MLP on [sentence embedding + hybrid_v1 features], class-weighted loss,
    median imputation + missing indicators; serves features from the online store."""
    params = MLPParams(
        hidden=tuple(config.hidden),
        dropout=config.dropout,
        learning_rate=config.learning_rate,
        max_epochs=config.max_epochs,
        seed=config.seed,
    )
    return _train_and_log(
        context, "mlp_model", params, training_dataset, review_embeddings, feature_store,
        mlflow_tracking, review_source, lambda tr, va, inp: train_mlp(tr, va, inp, params),
    )  # fmt: skip
