"""Partition-aware pickle IO managers: local disk by default, S3 in production.

Dagster's stock UPath IO managers refuse an output that spans several partitions, which
is exactly what a single-run backfill of `raw_reviews` produces. Both managers here
accept a `{partition_key: value}` dict for such a run and store one object per
partition, so downstream assets read partitions the same way whichever run wrote them.
The subclasses only supply where the bytes go.
"""

from typing import Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager
from dagster._core.storage.upath_io_manager import UPathIOManager
from dagster_aws.s3 import S3Resource
from dagster_aws.s3.io_manager import PickledObjectS3IOManager


class _MultiPartitionOutputMixin(UPathIOManager):
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


class _S3PartitionedPickleIOManager(_MultiPartitionOutputMixin, PickledObjectS3IOManager):
    pass


class LocalStorageIOManager(dg.ConfigurableIOManagerFactory):
    """Assets pickled under a local directory (the embedded default)."""

    base_dir: str

    def create_io_manager(self, context: dg.InitResourceContext) -> UPathIOManager:
        return _LocalPartitionedPickleIOManager(base_dir=self.base_dir)


class S3StorageIOManager(dg.ConfigurableIOManagerFactory):
    """Assets pickled in an S3 bucket (any S3-compatible endpoint, via dagster-aws)."""

    s3: dg.ResourceDependency[S3Resource]
    s3_bucket: str
    s3_prefix: str = "spoiler-shield"

    def create_io_manager(self, context: dg.InitResourceContext) -> UPathIOManager:
        return _S3PartitionedPickleIOManager(
            s3_bucket=self.s3_bucket, s3_session=self.s3.get_client(), s3_prefix=self.s3_prefix
        )
