import gzip
import json
import os
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest

from spoiler_assets.jobs import landing_job, retraining_job
from spoiler_assets.resources.locations import LandingZoneResource, ReportStoreResource, ReviewSourceResource
from spoiler_assets.sensors import build_drift_sensor, build_landing_sensor, run_failure_sensor

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2016-01-01", end_date="2017-06-01")


def _line(date: str, text: str = "A fine film.") -> str:
    return json.dumps(
        {"review_date": date, "movie_id": "tt0000001", "user_id": "ur1", "is_spoiler": False,
         "review_text": text, "rating": "7", "review_summary": "ok"}
    )  # fmt: skip


def _landing(tmp_path: Path) -> tuple[dg.SensorDefinition, dict[str, object]]:
    resources = {
        "landing_zone": LandingZoneResource(base_uri=str(tmp_path / "landing")),
        "review_source": ReviewSourceResource(base_uri=str(tmp_path / "source"), max_bad_line_share=0.1),
    }
    (tmp_path / "landing").mkdir()
    return build_landing_sensor(MONTHS, landing_job, 30), resources


def test_new_file_requests_one_run_per_month(tmp_path: Path) -> None:
    sensor, resources = _landing(tmp_path)
    (tmp_path / "landing" / "batch1.json").write_text(
        "\n".join(
            [_line("3 January 2017"), _line("9 February 2017", "Other."), _line("4 January 2017", "More.")]
        )
    )
    result = sensor(dg.build_sensor_context(resources=resources))
    assert [(r.partition_key, r.run_key.rsplit(":", 1)[0]) for r in result.run_requests] == [
        ("2017-01-01", "batch1.json:2017-01-01"), ("2017-02-01", "batch1.json:2017-02-01"),
    ]  # fmt: skip
    assert {r.tags["landing_file"] for r in result.run_requests} == {"batch1.json"}


def test_cursor_processes_each_file_once(tmp_path: Path) -> None:
    sensor, resources = _landing(tmp_path)
    (tmp_path / "landing" / "batch1.json").write_text(_line("3 January 2017"))
    first = sensor(dg.build_sensor_context(resources=resources))
    second = sensor(dg.build_sensor_context(resources=resources, cursor=first.cursor))
    assert isinstance(second, dg.SkipReason) and "no new files" in str(second.skip_message)


def test_malformed_file_is_reported_once_and_not_retried(tmp_path: Path) -> None:
    sensor, resources = _landing(tmp_path)
    (tmp_path / "landing" / "broken.json").write_text("not json\n" * 5)
    first = sensor(dg.build_sensor_context(resources=resources))
    assert first.run_requests == [] and "broken.json" in first.skip_reason.skip_message
    assert json.loads(first.cursor)["broken.json"]["outcome"].startswith("refused")
    second = sensor(dg.build_sensor_context(resources=resources, cursor=first.cursor))
    assert isinstance(second, dg.SkipReason)


def _tick(sensor: dg.SensorDefinition, resources: dict[str, object], cursor: str | None) -> Any:
    return sensor(dg.build_sensor_context(resources=resources, cursor=cursor))


def test_file_replaced_under_the_same_name_is_processed_again_once(tmp_path: Path) -> None:
    sensor, resources = _landing(tmp_path)
    landed = tmp_path / "landing" / "batch1.json"
    landed.write_text(_line("3 January 2017"))
    first = _tick(sensor, resources, None)
    # New content, new size: both months of the new version run, under new run keys.
    landed.write_text("\n".join([_line("3 January 2017"), _line("9 February 2017", "Other.")]))
    second = _tick(sensor, resources, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["2017-01-01", "2017-02-01"]
    assert not {r.run_key for r in second.run_requests} & {r.run_key for r in first.run_requests}
    third = _tick(sensor, resources, second.cursor)
    assert isinstance(third, dg.SkipReason)
    # Same size, rewritten later (only the modification time differs): processed again, once.
    stat = landed.stat()
    os.utime(landed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    fourth = _tick(sensor, resources, second.cursor)  # a skipped tick keeps the cursor
    assert [r.partition_key for r in fourth.run_requests] == ["2017-01-01", "2017-02-01"]
    assert isinstance(_tick(sensor, resources, fourth.cursor), dg.SkipReason)


def test_gzip_landed_file_is_read(tmp_path: Path) -> None:
    sensor, resources = _landing(tmp_path)
    body = "\n".join([_line("3 January 2017"), _line("9 March 2017", "Other.")])
    (tmp_path / "landing" / "batch2.json.gz").write_bytes(gzip.compress(body.encode()))
    result = _tick(sensor, resources, None)
    assert [(r.partition_key, r.tags["landing_file"]) for r in result.run_requests] == [
        ("2017-01-01", "batch2.json.gz"), ("2017-03-01", "batch2.json.gz"),
    ]  # fmt: skip


def test_cursor_written_before_versions_does_not_rerun_its_files(tmp_path: Path) -> None:
    sensor, resources = _landing(tmp_path)
    (tmp_path / "landing" / "batch1.json").write_text(_line("3 January 2017"))
    old_cursor = json.dumps({"batch1.json": "ok: 1 months"})
    assert isinstance(_tick(sensor, resources, old_cursor), dg.SkipReason)


@pytest.mark.integration
def test_object_replaced_on_s3_is_processed_again_once(s3_endpoint: str, s3_bucket: str) -> None:
    """Same name, same size, same second: only the ETag tells the new object apart."""
    sensor = build_landing_sensor(MONTHS, landing_job, 30)
    resources: dict[str, object] = {
        "landing_zone": LandingZoneResource(base_uri=f"s3://{s3_bucket}/landing", endpoint_url=s3_endpoint),
        "review_source": ReviewSourceResource(base_uri=f"s3://{s3_bucket}/source", endpoint_url=s3_endpoint),
    }
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.put_object(Bucket=s3_bucket, Key="landing/batch1.json", Body=_line("3 January 2017", "Good film."))
    first = _tick(sensor, resources, None)
    s3.put_object(Bucket=s3_bucket, Key="landing/batch1.json", Body=_line("3 January 2017", "Poor film."))
    second = _tick(sensor, resources, first.cursor)
    third = _tick(sensor, resources, second.cursor)
    assert [r.partition_key for r in first.run_requests + second.run_requests] == ["2017-01-01"] * 2
    assert first.run_requests[0].run_key != second.run_requests[0].run_key
    assert isinstance(third, dg.SkipReason)


def _drift_event(instance: dg.DagsterInstance, month: str, detected: bool) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization("drift_report", partition=month, metadata={"drift_detected": detected})
    )


def test_drift_decision_requests_retraining_exactly_once() -> None:
    sensor = build_drift_sensor(retraining_job, MONTHS)
    with dg.instance_for_test() as instance:
        _drift_event(instance, "2017-01-01", True)
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert [r.run_key.split(":")[:2] for r in first.run_requests] == [["drift", "2017-01-01"]]
        # every month in one run: the retraining job holds monthly assets
        assert first.run_requests[0].tags["dagster/asset_partition_range_start"] == "2016-01-01"
        assert first.run_requests[0].tags["dagster/asset_partition_range_end"] == "2017-05-01"
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert again.run_requests == []


def test_no_drift_requests_nothing() -> None:
    sensor = build_drift_sensor(retraining_job, MONTHS)
    with dg.instance_for_test() as instance:
        _drift_event(instance, "2017-02-01", False)
        result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert result.run_requests == [] and "no drift" in str(result.skip_message)


def test_run_failure_is_recorded_for_operators(tmp_path: Path) -> None:
    @dg.op
    def explode() -> None:
        raise RuntimeError("boom")

    @dg.job
    def failing_job() -> None:
        explode()

    with dg.instance_for_test() as instance:
        result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_sensor", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=failure,
            resources={"report_store": ReportStoreResource(base_uri=str(tmp_path))},
        ).for_run_failure()  # fmt: skip
        run_failure_sensor(context)
    record = json.loads((tmp_path / "alerts" / "run_failures" / f"{result.run_id}.json").read_text())
    assert record["job"] == "failing_job"
