"""A labelled month on which the champion ranks badly: the drift report records the
champion's figures beside its test score, the performance check warns, and the drift
sensor requests retraining for the month, once. SYNTHETIC data throughout."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.definitions import build_definitions
from spoiler_assets_tests.conftest import TrainedPlatform
from spoiler_assets_tests.helpers import corpus_settings

pytestmark = pytest.mark.slow

MONTH = "2017-03-01"


def _land_with_flipped_labels(landing: Path, tmp_path: Path) -> None:
    """A month of the champion's own movies (seed 3, 30 movies) whose readers flagged the
    opposite of what they used to: what the champion learned now ranks backwards."""
    corpus = generate_corpus(tmp_path / "flipped", CorpusSpec(300, 30, seed=3, first_month="2017-03",
                                                               last_month="2017-03"))  # fmt: skip
    rows = [json.loads(line) for line in corpus.reviews_path.read_text().splitlines() if line.strip()]
    landing.mkdir()
    (landing / "flipped.json").write_text(
        "\n".join(json.dumps({**row, "is_spoiler": not row["is_spoiler"]}) for row in rows)
    )


def test_labelled_month_past_the_drop_warns_and_requests_retraining_once(
    trained_platform: TrainedPlatform, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    _land_with_flipped_labels(landing, tmp_path)
    # On a copy: the month's raw_reviews partition must not reach other tests' retraining.
    settings = trained_platform.settings
    copy = tmp_path / "platform"
    shutil.copytree(settings.data_dir, copy)
    defs = build_definitions(corpus_settings(copy, settings.source_uri, "2016-01", "2017-03",
                                             SPOILER_LANDING_URI=str(landing)))  # fmt: skip

    with dg.instance_for_test() as instance:
        run = defs.resolve_job_def("landing_job").execute_in_process(partition_key=MONTH, instance=instance)
        assert run.success
        summary = run.output_for_node("drift_report")
        performance = summary.performance
        assert performance is not None and performance.judged and performance.retrain
        champion_test = trained_platform.comparison.figure(
            trained_platform.comparison.winner, "test", "roc_auc"
        )
        assert performance.reference["roc_auc"] == pytest.approx(champion_test, abs=1e-6)
        assert performance.month["roc_auc"] < 0.5 < champion_test  # ranks backwards now
        check = next(e for e in run.get_asset_check_evaluations() if e.check_name == "champion_performance")
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["month_roc_auc"].value == pytest.approx(performance.month["roc_auc"])

        sensor = defs.resolve_sensor_def("drift_sensor")
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert [r.run_key for r in tick.run_requests] == [f"drift:{MONTH}"]
        assert "performance drop in 2017-03" in tick.run_requests[0].tags["retraining_reason"]
