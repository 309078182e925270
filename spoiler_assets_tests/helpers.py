"""Running the champion lineage the way the demo and a single-run backfill do."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from spoiler_assets.definitions import build_definitions
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.settings import MODEL_ASSETS, Settings

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
# The lineage that lineage tests train unless what they assert needs another model: the
# four-model lineage runs once per suite (`trained_platform`), and costs minutes.
BASELINE_ONLY = ("baseline_model",)


def corpus_settings(
    data_dir: Path,
    source: Path | str,
    first: str,
    last: str,
    models: Sequence[str] = MODEL_ASSETS,
    **env: str,
) -> Settings:
    """Settings for a corpus and months. `models` competing for champion: every model by
    default (as `trained_platform` and copies of it need), whatever the machine has."""
    return Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(data_dir),
            "SPOILER_SOURCE": str(source),
            "SPOILER_FIRST_MONTH": first,
            "SPOILER_LAST_MONTH": last,
            "SPOILER_MODELS": ",".join(models),
            **env,
        }
    )


def lean_run_config(job: dg.JobDefinition) -> dict[str, Any]:
    """`LEAN_CHAMPION` for the ops that `job` has (a job without some models has no
    config for them)."""
    ops = LEAN_CHAMPION["ops"]
    return {"ops": {name: config for name, config in ops.items() if job.graph.has_node_named(name)}}


def run_champion_job(
    settings: Settings, run_config: dict | None = None, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """All review months in one run, then everything down to `champion_model`, training
    the models that `settings.models` names."""
    defs = build_definitions(settings)
    months = defs.resolve_assets_def("raw_reviews").partitions_def
    assert months is not None
    job = defs.resolve_job_def("champion_job")
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=all_months_tags(months),
        run_config=lean_run_config(job) if run_config is None else run_config,
        raise_on_error=False,
    )
