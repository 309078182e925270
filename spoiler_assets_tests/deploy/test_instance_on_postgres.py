"""The instance of deploy/dagster.yaml on real servers: Postgres (the database the init
script creates) for runs and events, moto's S3 server for compute logs. A one-asset run
leaves its run and events in Postgres and its step output in the bucket."""

import shutil
from pathlib import Path

import boto3
import dagster as dg
import pytest

from spoiler_assets_tests.deploy.conftest import ROLE, psql, run_init_script
from spoiler_assets_tests.deploy.files import DEPLOY

pytestmark = pytest.mark.integration

STEP_OUTPUT = "hello from the step"


@dg.asset
def greeting() -> str:
    print(STEP_OUTPUT)  # captured by the compute log manager
    return "hi"


def test_instance_stores_runs_in_postgres_and_logs_in_s3(
    postgres: dict[str, str],
    s3_endpoint: str,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_init_script(postgres, DEPLOY / "postgres" / "init-databases.sh").returncode == 0
    for name, value in {
        "DAGSTER_PG_HOST": postgres["PGHOST"],
        "DAGSTER_PG_PORT": postgres["PGPORT"],
        "DAGSTER_PG_USER": ROLE,
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        "DAGSTER_PG_DB": "dagster",
        "SPOILER_S3_BUCKET": s3_bucket,
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = dg.materialize([greeting], instance=instance)
        assert result.success
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"

    run_id = result.run_id
    assert psql(postgres, "dagster", f"SELECT status FROM runs WHERE run_id = '{run_id}'") == [["SUCCESS"]]
    events = psql(postgres, "dagster", f"SELECT count(*) FROM event_logs WHERE run_id = '{run_id}'")
    assert int(events[0][0]) > 5
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    logs = [k for k in keys if k.startswith("dagster/compute-logs/")]
    assert logs, f"no compute logs in s3://{s3_bucket}: {keys}"
    bodies = [s3.get_object(Bucket=s3_bucket, Key=k)["Body"].read().decode() for k in logs]
    assert any(STEP_OUTPUT in body for body in bodies)
