from datetime import datetime
from pathlib import Path

import dagster as dg

from spoiler_assets.definitions import build_definitions
from spoiler_assets.schedules import retraining_schedule
from spoiler_assets.settings import Settings


def test_retraining_runs_weekly_on_the_retraining_job() -> None:
    assert (retraining_schedule.cron_schedule, retraining_schedule.job_name) == ("0 3 * * 1", "retraining_job")
    assert retraining_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_batch_scoring_scores_the_month_that_just_ended(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)}))
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2018, 3, 1, 1, 0), repository_def=defs.get_repository_def()
    )
    data = defs.resolve_schedule_def("batch_scoring_schedule").evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2018-02-01"]
    assert defs.resolve_schedule_def("batch_scoring_schedule").job_name == "batch_scoring_job"
