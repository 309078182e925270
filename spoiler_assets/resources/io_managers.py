"""Partition-aware pickle IO managers: local disk by default, S3 in production.

Dagster's stock UPath IO managers refuse an output that spans several partitions, which
is exactly what a single-run backfill of `raw_reviews` produces. Both managers here
accept a `{partition_key: value}` dict for such a run and store one object per
partition, so downstream assets read partitions the same way whichever run wrote them.
The subclasses only supply where the bytes go.

When the S3 endpoint does not answer, the step fails with an error that names the
endpoint, the bucket and the asset (botocore's own names only a URL). Dagster records an
asset partition as materialized only after its output is stored, so an outage mid-run
leaves nothing recorded that was not written; re-executing the run from failure, once
the endpoint answers, completes it.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import botocore.exceptions
import dagster as dg

# No public equivalent: dagster exports the `FilesystemIOManager` factory, not the
# UPath-based class it builds (which also escapes `..` in partition keys on local disk).
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager
from dagster_aws.s3 import S3Resource
from dagster_aws.s3.io_manager import PickledObjectS3IOManager


class _MultiPartitionOutputMixin(dg.UPathIOManager):
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not context.has_asset_partitions or len(context.asset_partition_keys) == 1:
            super().handle_output(context, obj)
            return
        paths = self._get_paths_for_partitions(context)
        if not isinstance(obj, dict) or set(obj) != set(paths):
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()} ran for {len(paths)} partitions and must"
                " return a dict with exactly one value per partition key"
            )
        for partition_key, path in paths.items():
            self.make_directory(path.parent)
            self.dump_to_path(context=context, obj=obj[partition_key], path=path)


class _LocalPartitionedPickleIOManager(_MultiPartitionOutputMixin, PickledObjectFilesystemIOManager):
    pass


class S3EndpointUnavailableError(ConnectionError):
    """The S3 endpoint did not answer (or answered 5xx) while an asset was stored or read."""


class _S3PartitionedPickleIOManager(_MultiPartitionOutputMixin, PickledObjectS3IOManager):
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        with self._naming_endpoint("writing", context):
            super().handle_output(context, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        with self._naming_endpoint("reading", context):
            return super().load_input(context)

    def _naming_endpoint(
        self, action: str, context: dg.OutputContext | dg.InputContext
    ) -> AbstractContextManager[None]:
        asset = context.asset_key.to_user_string() if context.has_asset_key else "an op output"
        return _endpoint_named(self.s3.meta.endpoint_url, f"{action} {asset} in s3://{self.bucket}")


@contextmanager
def _endpoint_named(endpoint: str, doing: str) -> Iterator[None]:
    """Turns a connection failure or a 5xx answer into `S3EndpointUnavailableError`."""
    try:
        yield
    except botocore.exceptions.ClientError as err:
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500:
            raise
        raise _unavailable(endpoint, doing, err) from err
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as err:
        raise _unavailable(endpoint, doing, err) from err


def _unavailable(endpoint: str, doing: str, err: Exception) -> S3EndpointUnavailableError:
    return S3EndpointUnavailableError(
        f"S3 endpoint {endpoint} did not answer while {doing} ({err}); re-execute the run from"
        " failure once it answers"
    )


class LocalStorageIOManager(dg.ConfigurableIOManagerFactory):
    """Assets pickled under a local directory (the embedded default)."""

    base_dir: str

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.UPathIOManager:
        return _LocalPartitionedPickleIOManager(base_dir=self.base_dir)


class S3StorageIOManager(dg.ConfigurableIOManagerFactory):
    """Assets pickled in an S3 bucket (any S3-compatible endpoint, via dagster-aws)."""

    s3: dg.ResourceDependency[S3Resource]
    s3_bucket: str
    s3_prefix: str = "spoiler-shield"

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.UPathIOManager:
        client = self.s3.get_client()
        # dagster-aws lists the bucket on creation: the first call an outage can fail.
        with _endpoint_named(client.meta.endpoint_url, f"opening s3://{self.s3_bucket}/{self.s3_prefix}"):
            return _S3PartitionedPickleIOManager(
                s3_bucket=self.s3_bucket, s3_session=client, s3_prefix=self.s3_prefix
            )
