"""Sentence embeddings and the two hybrid models (XGBoost, MLP) on [embedding + Feast
features]; both compete in `model_comparison`."""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.metrics import average_precision_score, roc_auc_score

from spoiler_assets.assets.groups import EMBEDDINGS, TRAINING
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
from spoiler_assets.models.ray_batches import ActorPool, RayBatchParams, encode_on_ray, ray_pool
from spoiler_assets.partitions import monthly_output, partition_values
from spoiler_assets.resources.feature_store import EmbeddingCacheResource, FeatureStoreResource
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

HybridModel = XGBoostSpoilerModel | MLPSpoilerModel


_GPU_CHOICES: dict[str, bool | Literal["auto"]] = {"auto": "auto", "true": True, "false": False}


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
    precision: str = Field(
        default="auto",
        description=(
            "fp32 (SentenceTransformer.encode's vectors), int8 (quantised ONNX, about 1.4x faster"
            " than fp32 on a CPU, min cosine 0.995 to fp32), or auto: int8 on CPUs, fp32 on GPU actors"
        ),
    )
    runtime: str = Field(default="onnx", description="onnx (ONNX Runtime, exported at first use) or torch")
    runner: str = Field(
        default="auto",
        description=(
            "ray: Ray Data actors (in-process Ray, or the cluster at RAY_ADDRESS); local: this"
            " process; auto: ray from ray_min_reviews reviews on, or when Ray already runs here"
        ),
    )
    ray_min_reviews: int = Field(default=2_000, description="runner auto: Ray Data from this many reviews")
    ray_batch_size: int = Field(default=256, description="Reviews per Ray Data batch (one actor call)")
    ray_concurrency: int = Field(
        default=0, description="Ray Data actors; 0: one per GPU, or one per ray_cpus_per_actor CPUs"
    )
    ray_cpus_per_actor: int = Field(default=1, description="CPUs (ONNX Runtime threads) per CPU actor")
    use_gpu: str = Field(
        default="auto", description="GPU actors: auto (if the cluster has GPUs), true, false"
    )

    def ray_params(self) -> RayBatchParams:
        if self.use_gpu not in _GPU_CHOICES:
            raise ValueError(f"use_gpu must be one of {sorted(_GPU_CHOICES)}, got {self.use_gpu!r}")
        if self.use_gpu == "true" and self.precision == "int8":
            raise ValueError("precision int8 is a CPU format: use fp32 or auto with use_gpu true")
        return RayBatchParams(
            runner=self.runner,
            min_rows=self.ray_min_reviews,
            batch_size=self.ray_batch_size,
            concurrency=self.ray_concurrency,
            cpus_per_actor=self.ray_cpus_per_actor,
            # int8 vectors are made on CPUs: asked for explicitly, they keep actors off GPUs.
            use_gpu=False if self.precision == "int8" else _GPU_CHOICES[self.use_gpu],
        )

    def spec(self, pool: ActorPool | None) -> EncoderSpec:
        """The encoder: int8 is a CPU format, so `auto` asks GPU actors for fp32."""
        precision = self.precision
        if precision == "auto":
            precision = "fp32" if pool is not None and pool.gpus_per_actor else "int8"
        return EncoderSpec(
            self.model_path or None, self.max_seq_length, self.batch_size, precision, self.runtime
        )


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
        month_of = cleaned_reviews["review_date"].dt.strftime("%Y-%m-01")
        months = {m: cleaned_reviews[month_of == m] for m in context.partition_keys}
        spec = config.spec(None)
        todo = _Todo.find(spec, months, embedding_cache)
        # Ray only for what the cache does not hold; GPU actors then mean fp32 vectors.
        with ray_pool(config.ray_params(), len(todo.rows)) as pool:
            if config.spec(pool) != spec:
                spec = config.spec(pool)
                todo = _Todo.find(spec, months, embedding_cache)
            where = pool.describe() if pool is not None else "this process"
            context.log.info(
                f"{spec.tag}: {todo.n_cached:,} reviews cached, {len(todo.rows):,} to embed ({where})"
            )
            encoder = (lambda t, s, p: encode_on_ray(t, s, pool, p)) if pool is not None else None
            vectors, n_encoded = encode_remembered(
                todo.texts(months), todo.row_digests(), spec, _log_progress(context), encoder
            )
        out = todo.store(months, vectors, embedding_cache)
        metadata: dict[str, Any] = {
            "corpus": review_source.corpus_label(),
            "encoder": spec.tag,
            "runtime": spec.runtime,
            "ran_on": where,
            "reviews": sum(len(e) for e in out.values()),
            "encoded_now": n_encoded,
            "from_cache": len(todo.rows) - n_encoded + todo.n_cached,
        }
        return monthly_output(out, metadata)

    return review_embeddings


@dataclass
class _Todo:
    """Per month: each review's text digest, the cached vectors, and the (month, row)
    pairs the cache lacks for one encoder."""

    spec: EncoderSpec
    digests: dict[str, np.ndarray]
    cached: dict[str, dict[str, np.ndarray]]
    rows: list[tuple[str, int]]

    @classmethod
    def find(
        cls, spec: EncoderSpec, months: dict[str, pd.DataFrame], cache: EmbeddingCacheResource
    ) -> "_Todo":
        digests = {m: rows["review_text"].map(text_digest).to_numpy(dtype=str) for m, rows in months.items()}
        cached = {m: cache.load(spec.tag, m) for m in months}
        rows = [(m, i) for m in months for i, d in enumerate(digests[m]) if d not in cached[m]]
        return cls(spec, digests, cached, rows)

    @property
    def n_cached(self) -> int:
        return sum(len(d) for d in self.digests.values()) - len(self.rows)

    def texts(self, months: dict[str, pd.DataFrame]) -> list[str]:
        return [months[m]["review_text"].iloc[i] for m, i in self.rows]

    def row_digests(self) -> list[str]:
        return [self.digests[m][i] for m, i in self.rows]

    def store(
        self, months: dict[str, pd.DataFrame], vectors: np.ndarray, cache: EmbeddingCacheResource
    ) -> dict[str, ReviewEmbeddings]:
        """Each month's matrix in row order; months with new vectors saved to the cache."""
        for (m, i), vector in zip(self.rows, vectors, strict=True):
            self.cached[m][self.digests[m][i]] = vector
        out: dict[str, ReviewEmbeddings] = {}
        changed = {m for m, _ in self.rows}
        for m, rows in months.items():
            digests = self.digests[m]
            matrix = (
                np.stack([self.cached[m][d] for d in digests])
                if len(rows)
                else np.zeros((0, EMBEDDING_DIM), np.float32)
            )
            out[m] = ReviewEmbeddings(rows["review_id"].to_numpy(dtype=str), digests, matrix, self.spec)
            if m in changed:
                cache.save(self.spec.tag, m, digests, matrix)
        return out


def _log_progress(context: dg.AssetExecutionContext) -> Callable[[int, int, float], None]:
    def log(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        context.log.info(f"embedded {done:,}/{total:,} reviews ({rate:.0f}/s, {eta:.0f}s left)")

    return log


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
    parts = partition_values(review_embeddings)
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
