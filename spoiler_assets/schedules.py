"""Schedules: periodic retraining and monthly batch scoring."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from spoiler_assets.jobs import retraining_job

# Weekly, early Monday: retrain on everything ingested so far; the promotion gate decides
# whether the new model replaces the champion.
retraining_schedule = dg.ScheduleDefinition(
    name="retraining_schedule",
    job=retraining_job,
    cron_schedule="0 3 * * 1",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def build_batch_scoring_schedule(batch_scoring_job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Each month, score the month that just ended (and check it for drift)."""
    return dg.build_schedule_from_partitioned_job(
        batch_scoring_job, name="batch_scoring_schedule", default_status=dg.DefaultScheduleStatus.RUNNING
    )
