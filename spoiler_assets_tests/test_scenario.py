"""Unattended: a landed month flows to scores and a drift report; a shifted month, and
only a shifted one, leads to exactly one retraining request. SYNTHETIC data throughout."""

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.definitions import build_definitions
from spoiler_assets_tests.conftest import TrainedPlatform
from spoiler_assets_tests.helpers import corpus_settings, lean_run_config

pytestmark = pytest.mark.slow


# seed=3 and 30 movies: the same movies as the tiny corpus the champion was trained on.
def _land(landing: Path, name: str, spec: CorpusSpec, tmp_path: Path) -> None:
    corpus = generate_corpus(tmp_path / name, spec)
    landing.mkdir(exist_ok=True)
    shutil.copy(corpus.reviews_path, landing / f"{name}.json")


def _drift_requests(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance
) -> tuple[list[dg.RunRequest], str]:
    requests: list[dg.RunRequest] = []
    cursor = None
    while True:  # an asset sensor handles one new materialization per tick
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
        if tick.cursor == cursor:
            return requests, cursor or ""
        cursor, requests = tick.cursor, requests + list(tick.run_requests)


def test_shifted_month_triggers_retraining_once_and_plain_month_does_not(
    trained_platform: TrainedPlatform, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    settings = trained_platform.settings_with(SPOILER_LANDING_URI=str(landing))
    defs = build_definitions(settings)
    _land(landing, "shifted", CorpusSpec(300, 30, seed=3, first_month="2017-01", last_month="2017-01",
                                         spoiler_share=0.6, vocabulary_shift=1.0), tmp_path)  # fmt: skip
    _land(
        landing, "plain", CorpusSpec(300, 30, seed=3, first_month="2017-02", last_month="2017-02"), tmp_path
    )

    with dg.instance_for_test() as instance:
        landing_tick = defs.resolve_sensor_def("landing_sensor").evaluate_tick(
            dg.build_sensor_context(
                instance=instance, resources=defs.resources, repository_def=defs.get_repository_def()
            )
        )
        months = sorted(r.partition_key for r in landing_tick.run_requests)
        assert months == ["2017-01-01", "2017-02-01"]
        for month in months:
            run = defs.resolve_job_def("landing_job").execute_in_process(
                partition_key=month, instance=instance
            )
            assert run.success
            predictions = run.output_for_node("batch_predictions")
            assert len(predictions) > 250 and predictions["model_version"].nunique() == 1

        drift_sensor = defs.resolve_sensor_def("drift_sensor")
        requests, cursor = _drift_requests(drift_sensor, instance)
        assert [r.tags["retraining_reason"] for r in requests] == ["drift in 2017-01"]
        assert (
            drift_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor)).run_requests
            == []
        )

    # The requested run itself, as the daemon would launch it, on a copy of the platform
    # (the champion alias of the shared fixture stays as other tests expect it).
    copy = tmp_path / "retrain"
    shutil.copytree(settings.data_dir, copy)
    # Not the four models again (their lineage runs once per suite): the served model's
    # kind, retrained on the landed months, is the candidate that must hold its own against
    # the champion at the gate; the baseline comes along (sentence_evaluation reads it).
    served = ("baseline_model", trained_platform.champion.asset)
    retrain = corpus_settings(
        copy, settings.source_uri, "2016-01", "2017-03", models=served, SPOILER_LANDING_URI=str(landing)
    )
    job = build_definitions(retrain).resolve_job_def("retraining_job")
    with dg.instance_for_test() as instance:
        run = job.execute_in_process(
            instance=instance, tags=requests[0].tags, run_config=lean_run_config(job), raise_on_error=False
        )
        assert run.success, [str(e.message) for e in run.all_events if e.is_failure]
        # the retrained lineage saw the landed months
        assert run.output_for_node("cleaned_reviews")["review_date"].max() >= pd.Timestamp("2017-02-01")
