from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from spoiler_assets.partitions import all_months_tags
from spoiler_assets.resources.io_managers import LocalStorageIOManager, S3StorageIOManager

MONTHS = dg.MonthlyPartitionsDefinition(start_date="2017-01-01", end_date="2017-04-01")


@dg.asset(partitions_def=MONTHS, backfill_policy=dg.BackfillPolicy.single_run())
def monthly(context: dg.AssetExecutionContext) -> Any:
    values = {key: f"rows of {key}" for key in context.partition_keys}
    return values if len(values) > 1 else values[context.partition_key]


@dg.asset
def combined(monthly: dict[str, str]) -> list[str]:
    return sorted(monthly.values())


def _single_run_backfill(io_manager: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [monthly, combined],
        resources={"io_manager": io_manager},
        tags=all_months_tags(MONTHS),
    )


def test_local_single_run_backfill_stores_each_partition(tmp_path: Path) -> None:
    result = _single_run_backfill(LocalStorageIOManager(base_dir=str(tmp_path)))
    assert result.output_for_node("combined") == [f"rows of 2017-0{m}-01" for m in (1, 2, 3)]
    assert sorted(p.name for p in (tmp_path / "monthly").iterdir()) == [
        "2017-01-01",
        "2017-02-01",
        "2017-03-01",
    ]


def test_one_partition_run_reads_back(tmp_path: Path) -> None:
    io_manager = LocalStorageIOManager(base_dir=str(tmp_path))
    _single_run_backfill(io_manager)
    result = dg.materialize([monthly], resources={"io_manager": io_manager}, partition_key="2017-02-01")
    assert result.success and (tmp_path / "monthly" / "2017-02-01").exists()


def test_multi_partition_output_must_be_a_dict_per_partition(tmp_path: Path) -> None:
    @dg.asset(name="monthly", partitions_def=MONTHS, backfill_policy=dg.BackfillPolicy.single_run())
    def wrong(context: dg.AssetExecutionContext) -> str:
        return "one value for three months"

    with pytest.raises(dg.DagsterInvariantViolationError, match="one value per partition key"):
        dg.materialize(
            [wrong],
            resources={"io_manager": LocalStorageIOManager(base_dir=str(tmp_path))},
            tags=all_months_tags(MONTHS),
        )


@pytest.mark.integration
def test_s3_single_run_backfill_against_moto_server(s3_endpoint: str, s3_bucket: str) -> None:
    s3 = S3Resource(endpoint_url=s3_endpoint)
    result = _single_run_backfill(S3StorageIOManager(s3=s3, s3_bucket=s3_bucket, s3_prefix="assets"))
    assert result.output_for_node("combined") == [f"rows of 2017-0{m}-01" for m in (1, 2, 3)]
    listed = s3.get_client().list_objects_v2(Bucket=s3_bucket, Prefix="assets/monthly/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [f"assets/monthly/2017-0{m}-01" for m in (1, 2, 3)]
