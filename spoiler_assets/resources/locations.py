"""Where the source files are read from and where refused lines are kept.

Both take a local folder or an `s3://bucket/prefix` URI; `endpoint_url` points them at
any S3-compatible endpoint (MinIO, moto) instead of AWS.
"""

import json
from collections.abc import Callable, Collection
from typing import Any

import dagster as dg
import fsspec
import pandas as pd
from pydantic import Field, PrivateAttr

from spoiler_assets.data.kaggle import (
    REVIEWS_FILE,
    BadLine,
    ReviewReadResult,
    join_uri,
    read_movie_details,
    read_review_file,
    read_reviews,
    source_file,
    source_is_synthetic,
)
from spoiler_assets.data.lines import DEFAULT_MAX_LINE_BYTES
from spoiler_assets.data.month_index import FileMonths

SYNTHETIC_LABEL = "SYNTHETIC corpus (generated; not IMDB data)"
REAL_LABEL = "IMDB Spoiler Dataset (Kaggle files)"


class _FsspecLocation(dg.ConfigurableResource):
    base_uri: str = Field(description="Local folder or s3://bucket/prefix")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint, if not AWS")

    def storage_options(self) -> dict[str, Any]:
        if self.base_uri.startswith("s3://") and self.endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.endpoint_url}}
        return {}


def _file_version(entry: dict[str, Any]) -> str:
    """A listed file's version: size, modification time and (on S3) ETag."""
    modified = entry.get("mtime", entry.get("LastModified", ""))
    etag = str(entry.get("ETag", "")).strip('"')
    return f"size={entry.get('size')} modified={modified} etag={etag}"


class ReviewSourceResource(_FsspecLocation):
    """The Kaggle-format files: `IMDB_reviews.json` and `IMDB_movie_details.json`."""

    max_bad_line_share: float = 0.01
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES,
        description="A longer line is quarantined (streamed, never held whole)",
    )
    # Every asset labels its output with the corpus: one marker lookup (an S3 request in
    # production) per resource set up, not one per label.
    _corpus_label: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Dagster sets up a copy of the resource for each execution: read the marker
        # afresh there (on first use, so a step or sensor tick that never labels
        # anything makes no request).
        self._corpus_label = None

    def read_reviews(
        self,
        months: Collection[str] | None,
        valid_months: Collection[str],
        progress: Callable[[int], None] | None = None,
    ) -> ReviewReadResult:
        return read_reviews(
            self.base_uri,
            months=months,
            valid_months=valid_months,
            max_bad_share=self.max_bad_line_share,
            max_line_bytes=self.max_line_bytes,
            storage_options=self.storage_options(),
            progress=progress,
        )

    def reviews_file(self) -> tuple[str, str]:
        """(name, version) of the reviews file, as the month index records it."""
        uri = source_file(self.base_uri, REVIEWS_FILE, self.storage_options())
        fs, path = fsspec.core.url_to_fs(uri, **self.storage_options())
        fs.invalidate_cache(path)
        return uri.rsplit("/", 1)[-1], _file_version(fs.info(path))

    def read_movie_details(self) -> tuple[pd.DataFrame, list[BadLine]]:
        return read_movie_details(
            self.base_uri,
            max_bad_share=self.max_bad_line_share,
            max_line_bytes=self.max_line_bytes,
            storage_options=self.storage_options(),
        )

    def corpus_label(self) -> str:
        """How every asset and run shows where its data came from (read once, then kept)."""
        if self._corpus_label is None:
            synthetic = source_is_synthetic(self.base_uri, self.storage_options())
            self._corpus_label = SYNTHETIC_LABEL if synthetic else REAL_LABEL
        return self._corpus_label


class QuarantineResource(_FsspecLocation):
    """Keeps refused source lines, with their reasons, as JSON lines."""

    def write(self, name: str, bad_lines: list[BadLine]) -> str:
        uri = join_uri(self.base_uri, f"{name}.jsonl")
        with fsspec.open(uri, "w", auto_mkdir=True, **self.storage_options()) as out:
            for bad in bad_lines:
                record = {"file": bad.file, "line_no": bad.line_no, "reason": bad.reason, "text": bad.text}
                out.write(json.dumps(record) + "\n")
        return uri


_LANDED_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
MONTH_INDEX_FOLDER = ".month_index"


class LandingZoneResource(_FsspecLocation):
    """Where new review files (JSON lines, Kaggle schema, optionally gzip) land after the
    initial load; it also keeps the month index of those files and of the source file
    (`.month_index/`, see `spoiler_assets.data.month_index`), as the one location that
    ingestion owns and writes."""

    def list_files(self) -> list[str]:
        """Names of the landed review files, sorted."""
        return sorted(self.list_versions())

    def list_versions(self) -> dict[str, str]:
        """Each landed file's name and version: its size, modification time and (on S3)
        ETag, so that a file replaced under the same name reads as new."""
        fs, path = fsspec.core.url_to_fs(self.base_uri, **self.storage_options())
        # fsspec keeps one filesystem per process, and s3fs its listings: a file landed
        # or replaced by another process would stay unseen without this.
        fs.invalidate_cache(path)
        if not fs.exists(path):
            return {}
        versions = {}
        for entry in fs.ls(path, detail=True):
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            if entry.get("type") == "file" and name.endswith(_LANDED_SUFFIXES) and not name.startswith("."):
                versions[name] = _file_version(entry)
        return versions

    def months_entry(self, key: str) -> FileMonths | None:
        """The recorded months of a file (`landed/<name>` or `source/<name>`), if any."""
        fs, path = fsspec.core.url_to_fs(self._index_uri(key), **self.storage_options())
        try:
            with fs.open(path, "r") as stream:
                return FileMonths.from_json(stream.read())
        except FileNotFoundError:
            return None

    def record_months(self, key: str, entry: FileMonths) -> None:
        """Keep `entry` (merged with what earlier reads of the same version saw)."""
        known = self.months_entry(key)
        merged = known.merged(entry) if known else entry
        with fsspec.open(self._index_uri(key), "w", auto_mkdir=True, **self.storage_options()) as out:
            out.write(merged.to_json())

    def _index_uri(self, key: str) -> str:
        # A hidden folder beside the landed files: `list_versions` skips it.
        return join_uri(self.base_uri, f"{MONTH_INDEX_FOLDER}/{key}.json")

    def read(
        self,
        name: str,
        months: Collection[str] | None,
        valid_months: Collection[str],
        max_bad_share: float,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> ReviewReadResult:
        return read_review_file(
            join_uri(self.base_uri, name),
            months=months,
            valid_months=valid_months,
            max_bad_share=max_bad_share,
            max_line_bytes=max_line_bytes,
            storage_options=self.storage_options(),
        )


class ReportStoreResource(_FsspecLocation):
    """Where reports (drift HTML) and operator alerts are written, under one prefix."""

    def write_text(self, relative_path: str, text: str) -> str:
        uri = join_uri(self.base_uri, relative_path)
        with fsspec.open(uri, "w", auto_mkdir=True, **self.storage_options()) as out:
            out.write(text)
        return uri
