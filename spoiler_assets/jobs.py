"""Jobs: what a person, a sensor or a schedule asks to materialize.

Each job takes its partitions from its assets: the monthly jobs select only monthly
assets and run for one review month; the champion and retraining jobs mix monthly and
unpartitioned assets and run over every month in one run (`partitions.all_months_tags`).
"""

from typing import Protocol

import dagster as dg


class NamedJob(Protocol):
    """A job that a sensor or schedule starts, targeted by its name (the type that
    `dg.define_asset_job` returns is not part of Dagster's public API)."""

    @property
    def name(self) -> str: ...


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
    description=(
        "Re-clean, re-split, retrain the competing models (SPOILER_MODELS) and re-run the promotion gate"
    ),
)

landing_job = dg.define_asset_job(
    "landing_job",
    selection=dg.AssetSelection.assets("raw_reviews") | _MONITORING,
    description="Ingest a landed month, score it with the champion, check it for drift",
)

batch_scoring_job = dg.define_asset_job(
    "batch_scoring_job",
    selection=_MONITORING,
    description="Score a month with the current champion and check it for drift",
)
