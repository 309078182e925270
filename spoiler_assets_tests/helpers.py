"""Running the champion lineage the way the demo and a single-run backfill do."""

from pathlib import Path

import dagster as dg

from spoiler_assets.definitions import build_definitions
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.settings import Settings

# Small model budgets for tests that only need a champion to exist: the suite runs on
# 2 cores. The defaults are exercised by the demo and the model tests.
LEAN_CHAMPION = {
    "ops": {
        "review_embeddings": {"config": {"max_seq_length": 32}},
        "transformer_model": {"config": {"sample_fraction": 0.05, "max_length": 32}},
        "xgboost_model": {"config": {"n_estimators": 40}},
        "mlp_model": {"config": {"max_epochs": 5}},
        "sentence_evaluation": {"config": {"max_sentences": 2_000}},
    }
}


def corpus_settings(data_dir: Path, source: Path | str, first: str, last: str, **env: str) -> Settings:
    return Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(data_dir),
            "SPOILER_SOURCE": str(source),
            "SPOILER_FIRST_MONTH": first,
            "SPOILER_LAST_MONTH": last,
            **env,
        }
    )


def run_champion_job(
    settings: Settings, run_config: dict | None = None, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """All review months in one run, then everything down to `champion_model`."""
    defs = build_definitions(settings)
    months = defs.resolve_assets_def("raw_reviews").partitions_def
    assert months is not None
    return defs.resolve_job_def("champion_job").execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=all_months_tags(months),
        run_config=LEAN_CHAMPION if run_config is None else run_config,
        raise_on_error=False,
    )
