"""Jobs: what a person, a sensor or a schedule asks to materialize."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

_INGESTED = dg.AssetSelection.assets("raw_reviews", "movie_details")
_MONITORING = dg.AssetSelection.assets("batch_predictions", "drift_report")

# The served pair (review champion and its sentence scorer) and their evaluation.
_SERVED = dg.AssetSelection.assets("champion_model", "sentence_model", "sentence_evaluation")

# The whole lineage of the served model, from the source files to the registry alias.
champion_job = dg.define_asset_job(
    "champion_job",
    selection=_SERVED.upstream(),
    description="Materialize champion_model, its sentence_model and sentence_evaluation, and their lineage",
)

# Retraining reuses what was ingested (raw months, movie details) and rebuilds the rest.
retraining_job = dg.define_asset_job(
    "retraining_job",
    selection=_SERVED.upstream() - _INGESTED,
    description="Re-clean, re-split, retrain every model and re-run the promotion gate",
)


def build_monthly_jobs(
    partitions_def: dg.MonthlyPartitionsDefinition,
) -> list[UnresolvedAssetJobDefinition]:
    """Jobs that run for one review month."""
    landing_job = dg.define_asset_job(
        "landing_job",
        selection=dg.AssetSelection.assets("raw_reviews") | _MONITORING,
        partitions_def=partitions_def,
        description="Ingest a landed month, score it with the champion, check it for drift",
    )
    batch_scoring_job = dg.define_asset_job(
        "batch_scoring_job",
        selection=_MONITORING,
        partitions_def=partitions_def,
        description="Score a month with the current champion and check it for drift",
    )
    return [landing_job, batch_scoring_job]
