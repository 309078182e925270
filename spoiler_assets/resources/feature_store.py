"""The Feast feature store and the embedding cache, as resources.

Both take a local folder or an S3 prefix; the environment (resources/environment.py)
picks one. The feature store keeps its offline parquet sources and registry there and
its online store in SQLite (embedded) or Redis (production).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import fsspec
import numpy as np
import pandas as pd
from feast import FeatureStore
from pydantic import Field

from spoiler_assets.features.repo import MaterializedView, apply_definitions, load_definitions, materialize
from spoiler_assets.features.retrieval import historical_features
from spoiler_assets.features.store import FeatureStoreSpec, open_store


def _storage_options(uri: str, endpoint_url: str | None) -> dict[str, Any]:
    if uri.startswith("s3://") and endpoint_url:
        return {"client_kwargs": {"endpoint_url": endpoint_url}}
    return {}


class FeatureStoreResource(dg.ConfigurableResource):
    """Feast: parquet sources + registry (disk or S3), online store (SQLite or Redis)."""

    project: str = Field(default="spoiler_shield", description="Feast project")
    root_uri: str = Field(description="Offline root: local folder or s3://bucket/prefix")
    local_dir: str = Field(description="Local folder (SQLite online store, embedded registry)")
    repo_dir: str = Field(description="Folder of the Feast definitions (feature_repo/)")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint, if not AWS")
    redis_url: str | None = Field(default=None, description="redis://host:port/db; SQLite when unset")

    @classmethod
    def from_spec(
        cls,
        spec: FeatureStoreSpec,
        repo_dir: Path,
        s3_endpoint_url: str | None = None,
        redis_url: str | None = None,
    ) -> FeatureStoreResource:
        """The resource for `spec`; `s3_endpoint_url` / `redis_url` (e.g. `dg.EnvVar`s)
        replace the spec's values where given."""
        return cls(
            project=spec.project,
            root_uri=spec.root_uri,
            local_dir=spec.local_dir,
            repo_dir=str(repo_dir),
            s3_endpoint_url=s3_endpoint_url or spec.s3_endpoint_url,
            redis_url=redis_url or spec.redis_url_with_password(),
        )

    def spec(self) -> FeatureStoreSpec:
        return FeatureStoreSpec(
            project=self.project,
            root_uri=self.root_uri,
            local_dir=self.local_dir,
            s3_endpoint_url=self.s3_endpoint_url,
            redis_url=self.redis_url,
        )

    def store(self) -> FeatureStore:
        return open_store(self.spec())

    def write_source(self, relative: str, table: pd.DataFrame) -> str:
        """Write one source table (parquet) under the offline root; returns its URI."""
        uri = self.spec().source_uri(relative)
        options = _storage_options(uri, self.s3_endpoint_url)
        if not uri.startswith("s3://"):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(uri, index=False, storage_options=options or None)
        return uri

    def delete_source(self, relative: str) -> None:
        uri = self.spec().source_uri(relative)
        fs, path = fsspec.core.url_to_fs(uri, **_storage_options(uri, self.s3_endpoint_url))
        if fs.exists(path):
            fs.rm(path)

    def apply(self) -> dict[str, list[str]]:
        """`feast apply` of the definitions in `repo_dir`; returns what changed."""
        return apply_definitions(self.store(), load_definitions(Path(self.repo_dir), self.spec()))

    def materialize(self, cutoff: datetime) -> list[MaterializedView]:
        return materialize(self.store(), cutoff)

    def rebuild(self) -> dict[str, list[str]]:
        """Drop the online store and the registry, then apply again (full refresh)."""
        self.store().teardown()
        return self.apply()

    def historical_features(self, reviews: pd.DataFrame) -> pd.DataFrame:
        return historical_features(self.store(), reviews)


class EmbeddingCacheResource(dg.ConfigurableResource):
    """Embeddings already computed, by encoder and partition, keyed by text digest."""

    base_uri: str = Field(description="Local folder or s3://bucket/prefix")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint, if not AWS")

    def _uri(self, tag: str, partition: str) -> str:
        return f"{self.base_uri.rstrip('/')}/{tag}/{partition}.npz"

    def load(self, tag: str, partition: str) -> dict[str, np.ndarray]:
        uri = self._uri(tag, partition)
        fs, path = fsspec.core.url_to_fs(uri, **_storage_options(uri, self.endpoint_url))
        if not fs.exists(path):
            return {}
        with fs.open(path, "rb") as handle, np.load(io.BytesIO(handle.read())) as stored:
            return dict(zip(stored["digests"].tolist(), stored["vectors"], strict=True))

    def save(self, tag: str, partition: str, digests: np.ndarray, vectors: np.ndarray) -> str:
        uri = self._uri(tag, partition)
        buffer = io.BytesIO()
        np.savez(buffer, digests=digests.astype(str), vectors=vectors.astype(np.float32))
        with fsspec.open(uri, "wb", auto_mkdir=True, **_storage_options(uri, self.endpoint_url)) as out:
            out.write(buffer.getvalue())
        return uri
