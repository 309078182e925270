"""The Dagster code location: assembles assets, resources and jobs for the environment."""

import dagster as dg

from spoiler_assets.assets.evaluation import champion_model, model_comparison
from spoiler_assets.assets.ingestion import build_raw_reviews, movie_details
from spoiler_assets.assets.preparation import cleaned_reviews, review_split
from spoiler_assets.assets.training import baseline_model
from spoiler_assets.jobs import champion_job
from spoiler_assets.partitions import review_months
from spoiler_assets.resources.environment import build_resources
from spoiler_assets.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything in the code location, for the given settings."""
    return dg.Definitions(
        assets=[
            build_raw_reviews(review_months(settings)),
            movie_details,
            cleaned_reviews,
            review_split,
            baseline_model,
            model_comparison,
            champion_model,
        ],
        jobs=[champion_job],
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev` / the webserver; reads the environment only when called."""
    return build_definitions(Settings.from_env())
