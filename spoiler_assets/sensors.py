"""Sensors: new files in the landing zone, drift decisions, run failures."""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from spoiler_assets.data.kaggle import TooManyBadLinesError
from spoiler_assets.jobs import NamedJob
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.resources.locations import LandingZoneResource, ReportStoreResource, ReviewSourceResource


def build_landing_sensor(
    partitions_def: dg.MonthlyPartitionsDefinition,
    landing_job: NamedJob,
    interval_s: int,
) -> dg.SensorDefinition:
    @dg.sensor(
        job_name=landing_job.name,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a landing_job run for each review month found in a new landed file",
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext,
        landing_zone: LandingZoneResource,
        review_source: ReviewSourceResource,
    ) -> dg.SensorResult | dg.SkipReason:
        """The cursor records every file already handled, good or refused, with its version
        (size, modification time, ETag): each version is processed once, a malformed one is
        reported once, never retried, and a file replaced under the same name is new."""
        seen = _landing_cursor(context.cursor)
        versions = landing_zone.list_versions()
        for name, version in versions.items():
            if isinstance(seen.get(name), str):
                # A cursor from before versions were recorded: that file was handled.
                seen[name] = {"version": version, "outcome": str(seen[name])}
        new = {n: v for n, v in versions.items() if _cursor_version(seen.get(n)) != v}
        if not new:
            return dg.SkipReason(f"no new files in {landing_zone.base_uri}")
        valid = partitions_def.get_partition_keys()
        requests, refused = [], []
        for name, version in new.items():
            try:
                result = landing_zone.read(
                    name, None, valid, review_source.max_bad_line_share, review_source.max_line_bytes
                )
            except (TooManyBadLinesError, ValueError) as err:
                seen[name] = {"version": version, "outcome": f"refused: {err}"}
                refused.append(f"{name}: {err}")
                context.log.warning(f"landed file refused, not retried: {name}: {err}")
                continue
            months = [m for m, frame in sorted(result.by_month.items()) if len(frame)]
            seen[name] = {"version": version, "outcome": f"ok: {len(months)} months"}
            # The version is in the run key: Dagster starts a run key once, ever.
            digest = hashlib.sha256(version.encode()).hexdigest()[:12]
            requests += [
                dg.RunRequest(
                    partition_key=m,
                    run_key=f"{name}:{m}:{digest}",
                    tags={"landing_file": name, "landing_file_version": version},
                )
                for m in months
            ]
        skip = None if requests else f"nothing to run; refused: {'; '.join(refused) or 'none'}"
        return dg.SensorResult(
            run_requests=requests, cursor=json.dumps(seen, sort_keys=True), skip_reason=skip
        )

    return landing_sensor


def _landing_cursor(cursor: str | None) -> dict[str, Any]:
    return dict(json.loads(cursor)) if cursor else {}


def _cursor_version(entry: object) -> str | None:
    return str(entry["version"]) if isinstance(entry, dict) else None


def build_drift_sensor(
    retraining_job: NamedJob, partitions_def: dg.MonthlyPartitionsDefinition
) -> dg.SensorDefinition:
    @dg.sensor(
        job_name=retraining_job.name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Requests retraining once per month whose drift_report decided 'drift' or found a"
            " performance drop past the retraining limit"
        ),
    )
    def drift_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        """Reads every drift_report materialization after the cursor (not only the latest,
        so two months checked between ticks both count); one run per month that asks for it."""
        after = int(context.cursor) if context.cursor else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("drift_report"), after_storage_id=after),
            limit=100,
            ascending=True,
        ).records
        if not records:
            return dg.SkipReason("no new drift_report")
        requests: list[dg.RunRequest] = []
        quiet: list[str] = []
        for record in records:
            materialization = record.asset_materialization
            assert materialization is not None
            month = materialization.partition or "unpartitioned"
            reason = _retraining_reason(materialization.metadata, month)
            if reason is not None and all(r.run_key != f"drift:{month}" for r in requests):
                # Once per month, whichever signal asked: the run key is the month, and
                # Dagster starts a run key once (a re-run report of the month adds nothing).
                requests.append(
                    dg.RunRequest(
                        run_key=f"drift:{month}",
                        tags={"retraining_reason": reason, **all_months_tags(partitions_def)},
                    )
                )
            elif reason is None:
                quiet.append(month[:7])
        skip = None if requests else f"no drift in {', '.join(quiet)}"
        return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id), skip_reason=skip)

    return drift_sensor


def _retraining_reason(metadata: Mapping[str, Any], month: str) -> str | None:
    """Why a drift_report asks for retraining (drift, a performance drop), or None."""
    signals = (("drift", "drift_detected"), ("performance drop", "performance_degraded"))
    causes = [name for name, key in signals if key in metadata and metadata[key].value]
    return f"{' and '.join(causes)} in {month[:7]}" if causes else None


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
