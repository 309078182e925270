"""Sentence embeddings and the two hybrid models (XGBoost, MLP) on [embedding + Feast
features]; both compete in `model_comparison`."""

from collections.abc import Callable
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from spoiler_assets.assets.groups import EMBEDDINGS, TRAINING
from spoiler_assets.assets.model_run import Fit, train_in_mlflow_run
from spoiler_assets.features.schema import FEATURE_SERVICE
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.embedding_cache import embed_months, reviews_by_month
from spoiler_assets.models.hybrid import HybridInputs, HybridSplit, training_split, validation_scores
from spoiler_assets.models.hybrid_mlp import MLPParams, MLPSpoilerModel, train_mlp
from spoiler_assets.models.hybrid_xgboost import XGBoostParams, XGBoostSpoilerModel, train_xgboost
from spoiler_assets.models.ray_batches import EmbeddingParams
from spoiler_assets.partitions import monthly_output, partition_values
from spoiler_assets.resources.feature_store import EmbeddingCacheResource, FeatureStoreResource
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

HybridModel = XGBoostSpoilerModel | MLPSpoilerModel

_MLP_HIDDEN = MLPParams.model_fields["hidden"]


class EmbeddingConfig(dg.Config, EmbeddingParams):
    """Run config of `review_embeddings`: the fields (defaults, descriptions) of `EmbeddingParams`."""

    def params(self) -> EmbeddingParams:
        return EmbeddingParams(**self.model_dump())


def build_review_embeddings(partitions_def: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    """`review_embeddings` over the review months that the settings define."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=EMBEDDINGS,
        kinds={"pytorch", "numpy", "ray"},
    )
    def review_embeddings(
        context: dg.AssetExecutionContext,
        config: EmbeddingConfig,
        cleaned_reviews: pd.DataFrame,
        embedding_cache: EmbeddingCacheResource,
        review_source: ReviewSourceResource,
    ) -> dg.Output[Any]:
        """all-MiniLM-L6-v2 embeddings of each review (float32, 384 dimensions), one
        matrix per review month, on ONNX Runtime (int8 on CPUs by default). Large batches
        run on Ray Data actors (in-process Ray, or the cluster at RAY_ADDRESS; GPU actors
        when it has GPUs). Texts already embedded with the same encoder (same digest in
        the cache) are not encoded again."""
        months = reviews_by_month(cleaned_reviews, context.partition_keys)
        embedded = embed_months(
            months, config.params(), embedding_cache, _log_progress(context), context.log.info
        )
        metadata: dict[str, Any] = {
            "corpus": review_source.corpus_label(),
            "encoder": embedded.spec.tag,
            "runtime": embedded.spec.runtime,
            "ran_on": embedded.ran_on,
            "reviews": sum(len(e) for e in embedded.by_month.values()),
            "encoded_now": embedded.encoded_now,
            "from_cache": embedded.from_cache,
        }
        return monthly_output(embedded.by_month, metadata)

    return review_embeddings


def _log_progress(context: dg.AssetExecutionContext) -> Callable[[int, int, float], None]:
    def log(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        context.log.info(f"embedded {done:,}/{total:,} reviews ({rate:.0f}/s, {eta:.0f}s left)")

    return log


def _train_hybrid(
    context: dg.AssetExecutionContext,
    params: XGBoostParams | MLPParams,
    training_dataset: pd.DataFrame,
    review_embeddings: Any,
    feature_store: FeatureStoreResource,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
    train: Callable[[HybridSplit, HybridSplit, HybridInputs], HybridModel],
) -> dg.Output[TrainedModel]:
    parts = partition_values(review_embeddings)
    train_split, valid_split = (training_split(training_dataset, parts, s) for s in ("train", "valid"))
    encoder = next(p.encoder for p in parts)
    inputs = HybridInputs(store=feature_store.spec(), encoder=encoder)
    described = {"encoder": encoder.tag, "feature_service": FEATURE_SERVICE}

    def fit() -> Fit:
        name = context.asset_key.to_user_string()
        context.log.info(f"fitting {name} on {len(train_split):,} reviews ({encoder.tag} + features)")
        model = train(train_split, valid_split, inputs)
        metrics = validation_scores(model, valid_split)
        return Fit(model, metrics=metrics, metadata={"train_rows": len(train_split), **described})

    return train_in_mlflow_run(
        context,
        mlflow_tracking,
        review_source.corpus_label(),
        {**params.model_dump(), **described},
        fit,
        tags={"feature_service": FEATURE_SERVICE},
    ).output()


class XGBoostConfig(dg.Config, XGBoostParams):
    """Run config of `xgboost_model`: the fields (defaults, descriptions) of `XGBoostParams`."""

    def params(self) -> XGBoostParams:
        return XGBoostParams(**self.model_dump())


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
    params = config.params()
    return _train_hybrid(
        context, params, training_dataset, review_embeddings, feature_store,
        mlflow_tracking, review_source, lambda tr, va, inp: train_xgboost(tr, va, inp, params),
    )  # fmt: skip


class MLPConfig(dg.Config, MLPParams):
    """Run config of `mlp_model`: the fields of `MLPParams`; `hidden` is a list here (Dagster's
    config has no tuples)."""

    hidden: list[int] = Field(  # type: ignore[assignment]
        default=list(_MLP_HIDDEN.default), description=_MLP_HIDDEN.description
    )

    def params(self) -> MLPParams:
        return MLPParams(**self.model_dump())


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
    params = config.params()
    return _train_hybrid(
        context, params, training_dataset, review_embeddings, feature_store,
        mlflow_tracking, review_source, lambda tr, va, inp: train_mlp(tr, va, inp, params),
    )  # fmt: skip
