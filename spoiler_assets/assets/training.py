"""Training: one asset per model, each logged to MLflow with its params and metrics."""

from dataclasses import asdict

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.baseline import BaselineParams, train_baseline
from spoiler_assets.models.metrics import score_model
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource

TRAINING = "training"


class BaselineConfig(dg.Config):
    hash_bits: int = Field(default=20, description="log2 of the number of hashed TF-IDF features")
    ngram_max: int = Field(default=2, description="Longest word n-gram")
    c: float = Field(default=4.0, description="Inverse L2 regularisation strength")
    seed: int = Field(default=7, description="Random seed")


@dg.asset(group_name=TRAINING, kinds={"sklearn", "mlflow"})
def baseline_model(
    context: dg.AssetExecutionContext,
    config: BaselineConfig,
    review_split: pd.DataFrame,
    mlflow_tracking: MlflowTrackingResource,
    review_source: ReviewSourceResource,
) -> dg.Output[TrainedModel]:
    """TF-IDF (word 1-2 grams) + logistic regression with balanced class weights; the
    decision threshold maximises F1 on the validation split."""
    params = BaselineParams(
        hash_bits=config.hash_bits,
        ngram_max=config.ngram_max,
        c=config.c,
        seed=config.seed,
    )
    train = review_split[review_split["split"] == "train"]
    valid = review_split[review_split["split"] == "valid"]
    corpus = review_source.corpus_label()
    with mlflow_tracking.start_run(
        "baseline_model", tags={"corpus": corpus, "dagster_run_id": context.run.run_id}
    ) as run:
        context.log.info(f"fitting TF-IDF + LR on {len(train):,} reviews")
        model = train_baseline(train, valid, params)
        valid_score, _ = score_model(model, valid)
        mlflow.log_params(asdict(params))
        mlflow.log_metrics(
            {f"valid_{k}": v for k, v in valid_score.as_dict().items() if isinstance(v, float)}
        )
        model_uri = mlflow_tracking.log_classifier(model)
    return dg.Output(
        TrainedModel(classifier=model, run_id=run.info.run_id, model_uri=model_uri, corpus=corpus),
        metadata={
            "corpus": corpus,
            "mlflow_run": mlflow_tracking.run_url(run.info.run_id),
            "threshold": model.threshold,
            "valid_pr_auc": valid_score.pr_auc,
            "valid_roc_auc": valid_score.roc_auc,
            "train_rows": len(train),
        },
    )
