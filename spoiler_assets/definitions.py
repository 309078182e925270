"""The Dagster code location: assembles assets, resources and jobs for the environment."""

import dagster as dg

from spoiler_assets.assets.evaluation import build_champion_model, build_model_comparison
from spoiler_assets.assets.features import (
    build_review_feature_source,
    feature_registry,
    movie_feature_source,
    online_features,
    training_dataset,
    user_history_source,
)
from spoiler_assets.assets.hybrid import build_review_embeddings, mlp_model, xgboost_model
from spoiler_assets.assets.ingestion import build_raw_reviews, movie_details
from spoiler_assets.assets.monitoring import build_monitoring_assets
from spoiler_assets.assets.preparation import cleaned_reviews, review_split
from spoiler_assets.assets.sentences import sentence_evaluation, sentence_model
from spoiler_assets.assets.training import baseline_model
from spoiler_assets.assets.transformer import transformer_model
from spoiler_assets.checks import (
    build_model_checks,
    build_raw_review_checks,
    cleaned_reviews_duplicates,
    cleaned_reviews_label_share,
    cleaned_reviews_nulls,
)
from spoiler_assets.jobs import batch_scoring_job, champion_job, landing_job, retraining_job
from spoiler_assets.partitions import review_months
from spoiler_assets.resources.environment import build_resources
from spoiler_assets.schedules import build_batch_scoring_schedule, build_retraining_schedule
from spoiler_assets.sensors import build_drift_sensor, build_landing_sensor, run_failure_sensor
from spoiler_assets.settings import Settings

_PRODUCTION_EXECUTOR = dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything in the code location, for the given settings.

    Every model asset is defined (visible, materializable by hand); only the competing ones
    (`settings.models`) feed model_comparison and champion_model, so only they are part of
    champion_job and retraining_job.
    """
    months = review_months(settings)
    return dg.Definitions(
        assets=[
            build_raw_reviews(months),
            movie_details,
            cleaned_reviews,
            review_split,
            baseline_model,
            transformer_model,
            movie_feature_source,
            user_history_source,
            build_review_feature_source(months),
            feature_registry,
            online_features,
            training_dataset,
            build_review_embeddings(months),
            xgboost_model,
            mlp_model,
            build_model_comparison(settings.models, settings.left_out),
            build_champion_model(settings.models),
            sentence_model,
            sentence_evaluation,
            *build_monitoring_assets(months),
        ],
        asset_checks=[
            *build_raw_review_checks(months),
            cleaned_reviews_nulls,
            cleaned_reviews_label_share,
            cleaned_reviews_duplicates,
            *build_model_checks(settings.models),
        ],
        jobs=[champion_job, retraining_job, landing_job, batch_scoring_job],
        sensors=[
            build_landing_sensor(months, landing_job, settings.sensor_interval_s),
            build_drift_sensor(retraining_job, months),
            run_failure_sensor,
        ],
        schedules=[build_retraining_schedule(months), build_batch_scoring_schedule(batch_scoring_job)],
        resources=build_resources(settings),
        # One machine: every step in one process (no re-import of the code location per
        # step, which costs more than the steps on 2 cores). Production: a process per step,
        # forked from a server that has imported the code location once (the stack's
        # champion run took half the time of the default spawn).
        executor=_PRODUCTION_EXECUTOR if settings.uses_s3 else dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev` / the webserver; reads the environment only when called."""
    return build_definitions(Settings.from_env())
