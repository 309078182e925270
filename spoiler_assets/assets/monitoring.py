"""Monitoring: the champion scores each review month point in time, and the month is
checked for drift and, where it carries labels, for the champion's performance."""

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from spoiler_assets.assets.groups import MONITORING
from spoiler_assets.data.cleaning import clean_reviews
from spoiler_assets.models.base import labelled_probabilities
from spoiler_assets.models.ray_batches import score_reviews
from spoiler_assets.monitoring.drift import DriftConfig, DriftResult
from spoiler_assets.monitoring.month import drift_of_month, performance_of_month, predictions_frame
from spoiler_assets.monitoring.performance import PerformanceConfig, PerformanceResult
from spoiler_assets.resources.locations import ReportStoreResource, ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

PERFORMANCE_CHECK = "champion_performance"
_DRIFT = DriftConfig()
_PERFORMANCE = PerformanceConfig()
# Performance settings sit beside the drift settings in the run config, under this prefix.
_PERFORMANCE_PREFIX = "performance_"


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
    """Run config of `drift_report`; defaults are `DriftConfig`'s and `PerformanceConfig`'s."""

    value_threshold: float = Field(
        default=_DRIFT.value_threshold, description="Drift score at which a signal counts as drifted"
    )
    embedding_threshold: float = Field(
        default=_DRIFT.embedding_threshold, description="Distance at which embeddings count as drifted"
    )
    min_drifted_signals: int = Field(
        default=_DRIFT.min_drifted_signals, description="Drifted signals needed to decide 'drift'"
    )
    sample_size: int = Field(default=_DRIFT.sample_size, description="Reviews sampled from each side")
    embedding_sample_size: int = Field(
        default=_DRIFT.embedding_sample_size,
        description="Reviews embedded (all-MiniLM-L6-v2) on each side for embedding drift; 0 skips it",
    )
    seed: int = Field(default=_DRIFT.seed, description="Sampling seed")
    performance_metric: str = Field(
        default=_PERFORMANCE.metric,
        description="Metric compared with the champion's test score on a labelled month",
    )
    performance_warn_drop: float = Field(
        default=_PERFORMANCE.warn_drop,
        description="Drop below the champion's test score that fails the performance check (WARN)",
    )
    performance_retrain_drop: float = Field(
        default=_PERFORMANCE.retrain_drop,
        description="Drop below the champion's test score that requests retraining",
    )
    performance_min_reviews: int = Field(
        default=_PERFORMANCE.min_reviews, description="Labelled reviews needed to judge performance"
    )

    def drift(self) -> DriftConfig:
        return DriftConfig(**self.model_dump(include={f.name for f in fields(DriftConfig)}))

    def performance(self) -> PerformanceConfig:
        values = self.model_dump()
        return PerformanceConfig(
            **{f.name: values[_PERFORMANCE_PREFIX + f.name] for f in fields(PerformanceConfig)}
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
        version = str(champion.version)
        scored = predictions_frame(reviews, proba, classifier.threshold, mlflow_tracking.model_name, version)
        context.log.info(f"scored {len(scored):,} reviews with v{version} ({ran_on})")
        return dg.Output(
            scored,
            metadata={
                "corpus": review_source.corpus_label(),
                "rows": len(scored),
                "model_version": version,
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
        registered = mlflow_tracking.version(version)
        classifier = mlflow_tracking.load_version(registered)
        result = drift_of_month(review_split, batch_predictions, classifier, config.drift())
        performance = performance_of_month(
            batch_predictions, classifier.threshold, registered.tags, config.performance()
        )
        uris = {
            part: report_store.write_text(f"drift/{month}/{part}.html", html)
            for part, html in result.html.items()
        }
        corpus = review_source.corpus_label()
        run_id = _log_to_mlflow(mlflow_tracking, month, corpus, result, performance)
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
            "mlflow_run": mlflow_tracking.run_url(run_id),
            **{f"report_{part}": dg.MetadataValue.path(uri) for part, uri in uris.items()},
        }
        yield dg.Output(summary, metadata=metadata)
        yield _performance_check(performance)

    return [batch_predictions, drift_report]


def _log_to_mlflow(
    mlflow_tracking: MlflowTrackingResource,
    month: str,
    corpus: str,
    result: DriftResult,
    performance: PerformanceResult | None,
) -> str:
    """One MLflow run per checked month: drift scores, the month's figures, the reports."""
    with mlflow_tracking.start_run(f"drift_report {month[:7]}", tags={"corpus": corpus}) as run:
        mlflow.log_metrics({f"drift_{k}": v for k, v in result.scores.items()})
        if performance is not None and performance.judged:
            mlflow.log_metrics({f"month_{k}": v for k, v in performance.month.items()})
        for part, html in result.html.items():
            mlflow.log_text(html, f"drift/{month[:7]}/{part}.html")
    return str(run.info.run_id)


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
