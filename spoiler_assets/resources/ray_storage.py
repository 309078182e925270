"""Where Ray Train and Ray Tune keep run state and checkpoints: a local folder or S3.

A retried Dagster run finds its Ray run here by name and resumes from the latest
checkpoint, so this must be storage every Ray node and every retry can reach.
"""

from pathlib import Path

import dagster as dg
import pyarrow.fs
from pydantic import Field


class RayStorageResource(dg.ConfigurableResource):
    """Ray's `storage_path`: a local folder (embedded default) or s3://bucket/prefix."""

    base_uri: str = Field(description="Local folder or s3://bucket/prefix for Ray run folders")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint, if not AWS")

    @property
    def is_s3(self) -> bool:
        return self.base_uri.startswith("s3://")

    def storage_path(self) -> str:
        """The path to give Ray: absolute for a folder; `bucket/prefix` when `filesystem()`
        carries a custom endpoint (pyarrow takes paths without the scheme then)."""
        if not self.is_s3:
            folder = Path(self.base_uri).expanduser().resolve()
            folder.mkdir(parents=True, exist_ok=True)
            return str(folder)
        return self.base_uri.removeprefix("s3://") if self.endpoint_url else self.base_uri

    def remove(self, run_name: str) -> None:
        """Delete a run's folder once its model is safely elsewhere: checkpoints hold the
        weights and optimizer state of two epochs, hundreds of MB per run."""
        filesystem, root = self.filesystem(), self.storage_path()
        if filesystem is None:
            filesystem, root = pyarrow.fs.FileSystem.from_uri(root)
        filesystem.delete_dir(f"{root.rstrip('/')}/{run_name}")

    def filesystem(self) -> pyarrow.fs.FileSystem | None:
        """A pyarrow S3 filesystem for a custom endpoint (MinIO, moto); None lets Ray choose."""
        if self.is_s3 and self.endpoint_url:
            return pyarrow.fs.S3FileSystem(endpoint_override=self.endpoint_url)
        return None
