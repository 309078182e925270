"""S3 faults: the endpoint stops during a run, then comes back.

A dedicated moto server (not the session one, which other tests use) serves the asset
storage. Its in-process backend keeps the objects while it is down, as a real store
keeps its disks through a network outage, so "comes back" is the same data again.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._core.execution.execution_result import ExecutionResult
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer

from spoiler_assets.resources.io_managers import S3EndpointUnavailableError, S3StorageIOManager
from spoiler_assets_tests.assets.s3_outage import (
    FIRST_MONTH,
    arm_outage,
    reconstructable_outage_job,
)
from spoiler_assets_tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class StoppableS3Endpoint:
    """moto's S3 server on a fixed loopback port, stopped and started again at will."""

    def __init__(self, bucket: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # moto's store is one per process, shared with the session server: a bucket per test.
        self.bucket = bucket
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
def s3_outage_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[StoppableS3Endpoint]:
    """A dedicated moto server (with a fresh bucket) that a test may stop and start again."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = StoppableS3Endpoint(f"s3-outage-{uuid.uuid4().hex[:12]}")
    endpoint.start()
    boto3.client("s3", endpoint_url=endpoint.url).create_bucket(Bucket=endpoint.bucket)
    try:
        yield endpoint
    finally:
        endpoint.stop()


def _stored(endpoint: StoppableS3Endpoint) -> set[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint.url)
    listed = s3.list_objects_v2(Bucket=endpoint.bucket, Prefix="assets/")
    return {o["Key"].removeprefix("assets/") for o in listed.get("Contents", [])}


def _recorded(instance: dg.DagsterInstance) -> set[str]:
    """Every asset (and partition) that the instance records as materialized."""
    recorded = set()
    for name in ("raw_reviews", "movie_details", "cleaned_reviews"):
        key = dg.AssetKey(name)
        if name == "raw_reviews":
            recorded |= {f"{name}/{p}" for p in instance.get_materialized_partitions(key)}
        elif instance.get_latest_materialization_event(key) is not None:
            recorded.add(name)
    return recorded


def _failure_messages(result: ExecutionResult) -> list[str]:
    """Each failed step's error with its causes, as an operator reads it."""
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            text = []
            while error is not None:
                text.append(error.message)
                error = error.cause
            messages.append(f"{event.step_key}: {' <- '.join(text)}")
    return messages


@pytest.mark.parametrize(
    ("outage_after", "failed_step", "rerun"),
    [
        # raw_reviews reads its 12 months but cannot store them
        ("movie_details", "raw_reviews", {"raw_reviews", "cleaned_reviews"}),
        # raw_reviews and movie_details are stored; cleaned_reviews cannot read them
        ("raw_reviews", "cleaned_reviews", {"cleaned_reviews"}),
    ],
)
def test_endpoint_outage_fails_the_step_records_nothing_unwritten_and_reexecution_completes(
    tiny_corpus: Path,
    tmp_path: Path,
    s3_outage_endpoint: StoppableS3Endpoint,
    outage_after: str,
    failed_step: str,
    rerun: set[str],
) -> None:
    endpoint = s3_outage_endpoint.url
    job = reconstructable_outage_job(tmp_path, tiny_corpus, s3_outage_endpoint.bucket, endpoint)
    months = [f"{FIRST_MONTH[:4]}-{m:02d}-01" for m in range(1, 13)]
    every_month = {
        "dagster/asset_partition_range_start": months[0],
        "dagster/asset_partition_range_end": months[-1],
    }
    arm_outage(outage_after, s3_outage_endpoint.stop)
    with dg.instance_for_test() as instance:
        # Results read as events only: entering one would build the IO manager (on S3) again.
        failed = dg.execute_job(job, instance, tags=every_month)
        assert not failed.success
        messages = _failure_messages(failed)
        assert [m.split(":")[0] for m in messages] == [failed_step]
        assert endpoint in messages[0] and "did not answer" in messages[0], messages

        s3_outage_endpoint.start()
        stored = _stored(s3_outage_endpoint)
        recorded = _recorded(instance)
        assert recorded <= stored, f"recorded as materialized but never written: {recorded - stored}"
        assert "cleaned_reviews" not in recorded | stored
        months_recorded = {f"raw_reviews/{m}" for m in months} & recorded
        assert len(months_recorded) == (0 if failed_step == "raw_reviews" else 12)

        # The Python API does not copy the parent's tags (the UI does): the range goes again.
        from_failure = dg.ReexecutionOptions.from_failure(failed.run_id, instance)
        resumed = dg.execute_job(job, instance, tags=every_month, reexecution_options=from_failure)
        assert resumed.success, _failure_messages(resumed)
        assert {e.step_key for e in resumed.all_events if e.is_step_success} == rerun
        recorded = _recorded(instance)
        assert {f"raw_reviews/{m}" for m in months} | {"movie_details", "cleaned_reviews"} == recorded
        assert recorded <= _stored(s3_outage_endpoint)


def test_io_manager_opened_while_the_endpoint_is_down_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step process of the multiprocess executor opens its IO manager first."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    factory = S3StorageIOManager(s3=S3Resource(endpoint_url=endpoint, max_attempts=1), s3_bucket="absent")
    with pytest.raises(
        S3EndpointUnavailableError, match=rf"S3 endpoint {endpoint} did not answer while opening"
    ):
        factory.create_io_manager(dg.build_init_resource_context())
