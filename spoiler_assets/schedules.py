"""Schedules: periodic retraining and monthly batch scoring."""

import dagster as dg
import pandas as pd

from spoiler_assets.jobs import NamedJob, retraining_job
from spoiler_assets.partitions import all_months_tags


def build_retraining_schedule(partitions_def: dg.MonthlyPartitionsDefinition) -> dg.ScheduleDefinition:
    """Weekly, early Monday: retrain on everything ingested so far; the promotion gate
    decides whether the new model replaces the champion."""

    @dg.schedule(
        name="retraining_schedule",
        job=retraining_job,
        cron_schedule="0 3 * * 1",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def retraining_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(tags=all_months_tags(partitions_def))

    return retraining_schedule


def build_batch_scoring_schedule(batch_scoring_job: NamedJob) -> dg.ScheduleDefinition:
    """On the 1st of each month, score the month that just ended and check it for drift.

    The partitions include the current month (so landed reviews have a home), hence the
    explicit "previous month" rather than the partitioned job's latest partition.
    """

    @dg.schedule(
        name="batch_scoring_schedule",
        job_name=batch_scoring_job.name,
        cron_schedule="0 1 1 * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def batch_scoring_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = pd.Timestamp(context.scheduled_execution_time).tz_localize(None)
        month = (tick.normalize().replace(day=1) - pd.offsets.MonthBegin(1)).strftime("%Y-%m-%d")
        return dg.RunRequest(run_key=f"batch-scoring:{month}", partition_key=month)

    return batch_scoring_schedule
