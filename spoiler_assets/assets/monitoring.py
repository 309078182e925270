"""Monitoring: the champion scores each review month point in time, and the month is
checked for drift and, where it carries labels, for the champion's performance."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from spoiler_assets.data.cleaning import clean_reviews
from spoiler_assets.models.base import labelled_probabilities
from spoiler_assets.models.embeddings import EncoderSpec, encode_remembered, text_digest
from spoiler_assets.models.ray_batches import score_reviews
from spoiler_assets.monitoring.drift import DriftConfig, compute_drift
from spoiler_assets.monitoring.performance import (
    PerformanceConfig,
    PerformanceResult,
    performance_on_month,
    reference_figures,
)
from spoiler_assets.resources.locations import ReportStoreResource, ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

MONITORING = "monitoring"
PREDICTION_COLUMNS = [
    "review_id", "review_date", "movie_id", "user_id", "review_text", "is_spoiler",
    "spoiler_probability", "predicted_spoiler", "model_name", "model_version",
]  # fmt: skip


@dataclass(frozen=True)
class DriftSummary:
    """What `drift_report` decided for one month, and where its report is."""

    month: str
    drift_detected: bool
    scores: dict[str, float]
    reasons: list[str]
    model_version: str
    report_uris: dict[str, str]
    performance: PerformanceResult | None = None

    @property
    def retraining_requested(self) -> bool:
        """Drift, or a performance drop past the retraining limit."""
        return self.drift_detected or bool(self.performance and self.performance.retrain)


class DriftReportConfig(dg.Config):
    value_threshold: float = Field(
        default=0.25, description="Drift score at which a signal counts as drifted"
    )
    embedding_threshold: float = Field(
        default=0.1, description="Distance at which embeddings count as drifted"
    )
    min_drifted_signals: int = Field(default=2, description="Drifted signals needed to decide 'drift'")
    sample_size: int = Field(default=2_000, description="Reviews sampled from each side")
    embedding_sample_size: int = Field(
        default=300,
        description="Reviews embedded (all-MiniLM-L6-v2) on each side for embedding drift; 0 skips it",
    )
    seed: int = Field(default=7, description="Sampling seed")
    performance_metric: str = Field(
        default=PerformanceConfig.metric,
        description="Metric compared with the champion's test score on a labelled month",
    )
    performance_warn_drop: float = Field(
        default=PerformanceConfig.warn_drop,
        description="Drop below the champion's test score that fails the performance check (WARN)",
    )
    performance_retrain_drop: float = Field(
        default=PerformanceConfig.retrain_drop,
        description="Drop below the champion's test score that requests retraining",
    )
    performance_min_reviews: int = Field(
        default=PerformanceConfig.min_reviews, description="Labelled reviews needed to judge performance"
    )

    def performance(self) -> PerformanceConfig:
        return PerformanceConfig(
            metric=self.performance_metric,
            warn_drop=self.performance_warn_drop,
            retrain_drop=self.performance_retrain_drop,
            min_reviews=self.performance_min_reviews,
        )


def build_monitoring_assets(partitions_def: dg.MonthlyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """`batch_predictions` and `drift_report`, one partition per review month."""

    @dg.asset(partitions_def=partitions_def, group_name=MONITORING, kinds={"pandas", "mlflow"})
    def batch_predictions(
        context: dg.AssetExecutionContext,
        raw_reviews: pd.DataFrame,
        movie_details: pd.DataFrame,
        mlflow_tracking: MlflowTrackingResource,
        review_source: ReviewSourceResource,
    ) -> dg.Output[pd.DataFrame]:
        """The champion's spoiler probability for every review of the month, with the model
        version that produced it. Features are read as of each review's date from the
        offline store (as the drift reference is), never from the online store's latest
        values: a past month is scored with what its days knew, so none of its own labels
        reach its features."""
        champion = mlflow_tracking.champion_version()
        if champion is None:
            raise dg.Failure("no champion to score with: materialize champion_model first")
        reviews, _ = clean_reviews(raw_reviews, movie_details)
        classifier = mlflow_tracking.load_version(champion)
        # Ray Data actors for a large month (models/ray_batches.py), this process otherwise.
        proba, ran_on = score_reviews(
            classifier, reviews, score=labelled_probabilities,
            progress=lambda done, total, s: context.log.info(f"scored {done:,}/{total:,} reviews ({s:.0f}s)"),
        )  # fmt: skip
        scored = reviews.assign(
            spoiler_probability=proba,
            model_name=mlflow_tracking.model_name,
            model_version=str(champion.version),
        )
        scored["predicted_spoiler"] = scored["spoiler_probability"] >= classifier.threshold
        scored = scored[PREDICTION_COLUMNS]
        context.log.info(f"scored {len(scored):,} reviews with v{champion.version} ({ran_on})")
        return dg.Output(
            scored,
            metadata={
                "corpus": review_source.corpus_label(),
                "rows": len(scored),
                "model_version": str(champion.version),
                "predicted_spoiler_share": float(scored["predicted_spoiler"].mean()) if len(scored) else 0.0,
                "mean_probability": float(scored["spoiler_probability"].mean()) if len(scored) else 0.0,
            },
        )

    @dg.asset(
        partitions_def=partitions_def,
        group_name=MONITORING,
        kinds={"evidently", "mlflow"},
        check_specs=[
            dg.AssetCheckSpec(
                PERFORMANCE_CHECK,
                asset="drift_report",
                description=(
                    "On a labelled month: the champion's score is within the configured drop of"
                    " its test score (WARN); past the larger drop, retraining is requested"
                ),
            )
        ],
    )
    def drift_report(
        context: dg.AssetExecutionContext,
        config: DriftReportConfig,
        batch_predictions: pd.DataFrame,
        review_split: pd.DataFrame,
        mlflow_tracking: MlflowTrackingResource,
        report_store: ReportStoreResource,
        review_source: ReviewSourceResource,
    ) -> Iterator[dg.Output[DriftSummary] | dg.AssetCheckResult]:
        """Evidently drift report: the held-out window of the training data (reference) against this month's
        reviews: text descriptors, prediction drift, label share, embeddings. Where the
        month carries labels, the champion's ROC-AUC, PR-AUC and F1 on it beside its test
        figures. The HTML report is stored and logged to MLflow; `retraining_requested`
        (drift, or a performance drop past the retraining limit) drives retraining."""
        month = context.partition_key
        if batch_predictions.empty:
            summary = DriftSummary(month, False, {}, ["no reviews in this month"], "", {})
            yield dg.Output(
                summary, metadata={"drift_detected": False, "retraining_requested": False, "reviews": 0}
            )
            yield _performance_check(None)
            return
        version = str(batch_predictions["model_version"].iloc[0])
        # Held-out reviews (validation + test): the newest window the model was built and
        # judged on, and one where its probabilities are not inflated by having seen them.
        reference = review_split[review_split["split"] != "train"]
        reference = reference.sample(min(len(reference), config.sample_size), random_state=config.seed)
        classifier = mlflow_tracking.load_version(mlflow_tracking.version(version))
        reference = reference.assign(spoiler_probability=labelled_probabilities(classifier, reference))
        drift_config = DriftConfig(
            value_threshold=config.value_threshold,
            embedding_threshold=config.embedding_threshold,
            min_drifted_signals=config.min_drifted_signals,
            sample_size=config.sample_size,
            embedding_sample_size=config.embedding_sample_size,
            seed=config.seed,
        )
        embeddings = (
            [
                _embed(frame, config.embedding_sample_size, config.seed)
                for frame in (reference, batch_predictions)
            ]
            if config.embedding_sample_size
            else [None, None]
        )
        result = compute_drift(reference, batch_predictions, drift_config, *embeddings)
        performance = _performance(
            batch_predictions, classifier.threshold, mlflow_tracking.version(version).tags, config
        )
        uris = {
            part: report_store.write_text(f"drift/{month}/{part}.html", html)
            for part, html in result.html.items()
        }
        corpus = review_source.corpus_label()
        with mlflow_tracking.start_run(f"drift_report {month[:7]}", tags={"corpus": corpus}) as run:
            mlflow.log_metrics({f"drift_{k}": v for k, v in result.scores.items()})
            if performance is not None and performance.judged:
                mlflow.log_metrics({f"month_{k}": v for k, v in performance.month.items()})
            for part, html in result.html.items():
                mlflow.log_text(html, f"drift/{month[:7]}/{part}.html")
        summary = DriftSummary(
            month, result.drift_detected, result.scores, result.reasons, version, uris, performance
        )
        context.log.info(f"{month[:7]}: drift={result.drift_detected} {result.reasons}")
        if performance is not None:
            context.log.info(f"{month[:7]}: performance {performance.reason}")
        metadata: dict[str, Any] = {
            "corpus": corpus,
            "drift_detected": result.drift_detected,
            "retraining_requested": summary.retraining_requested,
            **_performance_metadata(performance),
            "reasons": ", ".join(result.reasons) or "none",
            "scores": dg.MetadataValue.json(result.scores),
            "reference_reviews": result.n_reference,
            "current_reviews": result.n_current,
            "model_version": version,
            "mlflow_run": mlflow_tracking.run_url(run.info.run_id),
            **{f"report_{part}": dg.MetadataValue.path(uri) for part, uri in uris.items()},
        }
        yield dg.Output(summary, metadata=metadata)
        yield _performance_check(performance)

    return [batch_predictions, drift_report]


PERFORMANCE_CHECK = "champion_performance"


def _performance(
    predictions: pd.DataFrame, threshold: float, tags: dict[str, str], config: DriftReportConfig
) -> PerformanceResult | None:
    """The champion on the month's labels, or None for an unlabelled month."""
    if not predictions["is_spoiler"].notna().all():
        return None
    return performance_on_month(
        predictions["is_spoiler"].to_numpy(dtype=bool),
        predictions["spoiler_probability"].to_numpy(dtype=float),
        threshold,
        reference_figures(tags),
        config.performance(),
    )


def _performance_metadata(performance: PerformanceResult | None) -> dict[str, Any]:
    if performance is None:
        return {"performance": "no labels in this month", "performance_degraded": False}
    return {
        "performance": performance.reason,
        "performance_degraded": performance.retrain,
        "performance_drop": performance.drop,
        **{f"month_{k}": v for k, v in performance.month.items()},
        **{f"champion_test_{k}": v for k, v in performance.reference.items()},
    }


def _performance_check(performance: PerformanceResult | None) -> dg.AssetCheckResult:
    description = "no labels in this month" if performance is None else performance.reason
    return dg.AssetCheckResult(
        check_name=PERFORMANCE_CHECK,
        passed=performance is None or not performance.warn,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={k: v for k, v in _performance_metadata(performance).items() if k != "performance"},
    )


# Drift compares samples with one fixed descriptor, whatever the models were trained on:
# the embedding threshold (0.1) was set from months measured with 128-token vectors.
_DRIFT_ENCODER = EncoderSpec(max_seq_length=128)


def _embed(frame: pd.DataFrame, size: int, seed: int) -> Any:
    sample = frame.sample(min(len(frame), size), random_state=seed)["review_text"].tolist()
    vectors, _ = encode_remembered(sample, [text_digest(t) for t in sample], _DRIFT_ENCODER)
    return vectors
