from datetime import datetime
from pathlib import Path

import dagster as dg

from spoiler_assets.definitions import build_definitions
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.settings import Settings


def test_retraining_runs_weekly_over_every_month(tmp_path: Path) -> None:
    defs = build_definitions(
        Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path), "SPOILER_LAST_MONTH": "2017-12"})
    )
    schedule = defs.resolve_schedule_def("retraining_schedule")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 3 * * 1", "retraining_job")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2018, 3, 5, 3, 0), repository_def=defs.get_repository_def()
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert (
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    ) == (
        "2014-01-01",
        "2017-12-01",
    )


def test_batch_scoring_scores_the_month_that_just_ended(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)}))
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2018, 3, 1, 1, 0), repository_def=defs.get_repository_def()
    )
    data = defs.resolve_schedule_def("batch_scoring_schedule").evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2018-02-01"]
    assert defs.resolve_schedule_def("batch_scoring_schedule").job_name == "batch_scoring_job"


def test_all_months_tags_run_every_partition_in_one_run() -> None:
    """The documented range tags, written as plain strings, still make one run of every month."""
    months = dg.MonthlyPartitionsDefinition(start_date="2017-01-01", end_date="2017-04-01")

    runs: list[list[str]] = []

    @dg.asset(partitions_def=months, backfill_policy=dg.BackfillPolicy.single_run())
    def monthly(context: dg.AssetExecutionContext) -> None:
        runs.append(context.partition_keys)

    assert dg.materialize([monthly], tags=all_months_tags(months)).success
    assert runs == [["2017-01-01", "2017-02-01", "2017-03-01"]]
