"""Training: the baseline model, logged to MLflow with its params and metrics."""

import dagster as dg
import pandas as pd

from spoiler_assets.assets.groups import TRAINING
from spoiler_assets.assets.model_run import Fit, train_in_mlflow_run
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.baseline import BaselineParams, train_baseline
from spoiler_assets.models.metrics import score_model
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource


class BaselineConfig(dg.Config, BaselineParams):
    """Run config of `baseline_model`: the fields (defaults, descriptions) of `BaselineParams`."""

    def params(self) -> BaselineParams:
        return BaselineParams(**self.model_dump())


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
    params = config.params()
    train = review_split[review_split["split"] == "train"]
    valid = review_split[review_split["split"] == "valid"]

    def fit() -> Fit:
        context.log.info(f"fitting TF-IDF + LR on {len(train):,} reviews")
        model = train_baseline(train, valid, params)
        score, _ = score_model(model, valid)
        metrics = {f"valid_{k}": v for k, v in score.as_dict().items() if isinstance(v, float)}
        return Fit(model, metrics=metrics, metadata={"train_rows": len(train)})

    corpus = review_source.corpus_label()
    return train_in_mlflow_run(context, mlflow_tracking, corpus, params.model_dump(), fit).output()
