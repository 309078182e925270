"""The one way a model asset trains: inside an MLflow run that records its params, its
validation metrics and the pyfunc model, returned with the metadata the UI shows."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import mlflow

from spoiler_assets.models.base import SpoilerClassifier, TrainedModel
from spoiler_assets.resources.tracking import MlflowTrackingResource


@dataclass(frozen=True)
class Fit:
    """What a model's training function hands back to `train_in_mlflow_run`."""

    model: SpoilerClassifier
    metrics: Mapping[str, float]  # logged to MLflow and shown in the asset's metadata
    metadata: Mapping[str, Any] = field(default_factory=dict)  # shown only


@dataclass(frozen=True)
class ModelRun:
    """A trained model, where MLflow keeps it, and what the asset shows about it."""

    trained: TrainedModel
    run_url: str
    metadata: dict[str, Any]

    def output(self) -> dg.Output[TrainedModel]:
        return dg.Output(self.trained, metadata=self.metadata)


def train_in_mlflow_run(
    context: dg.AssetExecutionContext,
    tracking: MlflowTrackingResource,
    corpus: str,
    params: Mapping[str, Any],
    fit: Callable[[], Fit],
    tags: Mapping[str, str] | None = None,
) -> ModelRun:
    """Run `fit` inside an MLflow run named after the asset, then log `params`, the fit's
    metrics and the classifier (pyfunc, with this package's code) to that run.

    `fit` runs while the MLflow run is active, so it may log more (tables, per-epoch
    metrics). The run is tagged with the corpus and the Dagster run id."""
    name = context.asset_key.to_user_string()
    run_tags = {"corpus": corpus, "dagster_run_id": context.run.run_id, **(tags or {})}
    with tracking.start_run(name, tags=run_tags) as run:
        result = fit()
        mlflow.log_params(dict(params))
        mlflow.log_metrics(dict(result.metrics))
        model_uri = tracking.log_classifier(result.model)
    run_id = run.info.run_id
    run_url = tracking.run_url(run_id)
    trained = TrainedModel(classifier=result.model, run_id=run_id, model_uri=model_uri, corpus=corpus)
    metadata = {
        "corpus": corpus,
        "mlflow_run": run_url,
        "threshold": result.model.threshold,
        **result.metrics,
        **result.metadata,
    }
    return ModelRun(trained=trained, run_url=run_url, metadata=metadata)
