"""Sensors: new files in the landing zone, drift decisions, run failures."""

import json
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from spoiler_assets.data.kaggle import TooManyBadLinesError
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.resources.locations import LandingZoneResource, ReportStoreResource, ReviewSourceResource


def build_landing_sensor(
    partitions_def: dg.MonthlyPartitionsDefinition,
    landing_job: UnresolvedAssetJobDefinition,
    interval_s: int,
) -> dg.SensorDefinition:
    @dg.sensor(
        job=landing_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a landing_job run for each review month found in a new landed file",
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext,
        landing_zone: LandingZoneResource,
        review_source: ReviewSourceResource,
    ) -> dg.SensorResult | dg.SkipReason:
        """The cursor records every file already handled, good or refused, so each file is
        processed once and a malformed one is reported once, never retried."""
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        new = [name for name in landing_zone.list_files() if name not in seen]
        if not new:
            return dg.SkipReason(f"no new files in {landing_zone.base_uri}")
        valid = partitions_def.get_partition_keys()
        requests, refused = [], []
        for name in new:
            try:
                result = landing_zone.read(name, None, valid, review_source.max_bad_line_share)
            except (TooManyBadLinesError, ValueError) as err:
                seen[name] = f"refused: {err}"
                refused.append(f"{name}: {err}")
                context.log.warning(f"landed file refused, not retried: {name}: {err}")
                continue
            months = [m for m, frame in sorted(result.by_month.items()) if len(frame)]
            seen[name] = f"ok: {len(months)} months"
            requests += [
                dg.RunRequest(partition_key=m, run_key=f"{name}:{m}", tags={"landing_file": name})
                for m in months
            ]
        skip = None if requests else f"nothing to run; refused: {'; '.join(refused) or 'none'}"
        return dg.SensorResult(
            run_requests=requests, cursor=json.dumps(seen, sort_keys=True), skip_reason=skip
        )

    return landing_sensor


def build_drift_sensor(
    retraining_job: UnresolvedAssetJobDefinition, partitions_def: dg.MonthlyPartitionsDefinition
) -> dg.SensorDefinition:
    @dg.sensor(
        job=retraining_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests retraining once for each drift_report that decided 'drift'",
    )
    def drift_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        """Reads every drift_report materialization after the cursor (not only the latest,
        so two months checked between ticks both count); one run per 'drift' decision."""
        after = int(context.cursor) if context.cursor else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("drift_report"), after_storage_id=after),
            limit=100,
            ascending=True,
        ).records
        if not records:
            return dg.SkipReason("no new drift_report")
        requests, quiet = [], []
        for record in records:
            materialization = record.asset_materialization
            assert materialization is not None
            month = materialization.partition or "unpartitioned"
            detected = materialization.metadata.get("drift_detected")
            if detected is not None and detected.value:
                # One request per decision: the run key is the materialization event itself.
                requests.append(
                    dg.RunRequest(
                        run_key=f"drift:{month}:{record.storage_id}",
                        tags={
                            "retraining_reason": f"drift in {month[:7]}",
                            **all_months_tags(partitions_def),
                        },
                    )
                )
            else:
                quiet.append(month[:7])
        skip = None if requests else f"no drift in {', '.join(quiet)}"
        return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id), skip_reason=skip)

    return drift_sensor


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes every failed run to the alerts folder an operator watches",
)
def run_failure_sensor(context: dg.RunFailureSensorContext, report_store: ReportStoreResource) -> None:
    record = {
        "run_id": context.dagster_run.run_id,
        "job": context.dagster_run.job_name,
        "message": context.failure_event.message,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    uri = report_store.write_text(
        f"alerts/run_failures/{context.dagster_run.run_id}.json", json.dumps(record)
    )
    context.log.error(f"run {record['run_id']} of {record['job']} failed; recorded at {uri}")
