"""The landing zone keeps the month index beside the landed files, on disk and on S3
(moto's server), without the index ever reading as a landed file."""

import uuid
from pathlib import Path

import boto3

from spoiler_assets.data.kaggle import REVIEWS_FILE
from spoiler_assets.data.month_index import FileMonths
from spoiler_assets.resources.locations import LandingZoneResource, ReviewSourceResource


def _round_trip(zone: LandingZoneResource) -> None:
    assert zone.months_entry("landed/a.json") is None
    zone.record_months("landed/a.json", FileMonths("v1", {"2017-02-01": 0}))
    zone.record_months("landed/a.json", FileMonths("v1", {"2017-03-01": 4}))
    assert zone.months_entry("landed/a.json") == FileMonths("v1", {"2017-02-01": 0, "2017-03-01": 4})
    zone.record_months("landed/a.json", FileMonths("v2", {}, complete=True))  # the file was replaced
    assert zone.months_entry("landed/a.json") == FileMonths("v2", {}, complete=True)


def test_index_on_disk_is_not_a_landed_file(tmp_path: Path) -> None:
    zone = LandingZoneResource(base_uri=str(tmp_path / "landing"))
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "a.json").write_text("{}\n")
    _round_trip(zone)
    assert zone.list_files() == ["a.json"]


def test_index_and_source_version_on_s3(s3_endpoint: str, s3_bucket: str) -> None:
    prefix = f"s3://{s3_bucket}/{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    key = prefix.split("/", 3)[3]
    s3.put_object(Bucket=s3_bucket, Key=f"{key}/landing/a.json", Body=b"{}\n")
    zone = LandingZoneResource(base_uri=f"{prefix}/landing", endpoint_url=s3_endpoint)
    _round_trip(zone)
    assert zone.list_files() == ["a.json"]

    source = ReviewSourceResource(base_uri=f"{prefix}/source", endpoint_url=s3_endpoint)
    s3.put_object(Bucket=s3_bucket, Key=f"{key}/source/{REVIEWS_FILE}", Body=b"{}\n")
    name, first = source.reviews_file()
    s3.put_object(Bucket=s3_bucket, Key=f"{key}/source/{REVIEWS_FILE}", Body=b"[]\n")  # same size
    assert name == REVIEWS_FILE and source.reviews_file()[1] != first
