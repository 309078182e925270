"""Streaming reader for the Kaggle IMDB Spoiler Dataset files (JSON lines).

The reviews file is about 0.9 GB: it is streamed line by line (`data.lines`) and only
the rows of the requested months are kept, as columns, never as one big list of dicts.
Lines that are not UTF-8, are over the size cap, do not parse or break the schema become
`BadLine`s (quarantine) with their line number and reason; the rest of the file is read.
A source file may be gzip-compressed (`IMDB_reviews.json.gz`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pandas as pd

from spoiler_assets.data.formats import (
    DETAILS_FILE,
    REVIEWS_FILE,
    SYNTHETIC_MARKER,
    month_key,
    normalize_movie_id,
    parse_duration_minutes,
    parse_movie_rating,
    parse_release_date,
    parse_review_date,
    parse_review_rating,
)
from spoiler_assets.data.lines import DEFAULT_MAX_LINE_BYTES, MAX_QUARANTINED_TEXT, source_lines

RAW_REVIEW_COLUMNS = (
    "review_date",
    "movie_id",
    "user_id",
    "is_spoiler",
    "review_text",
    "rating",
    "review_summary",
    "source_line",
)
MOVIE_COLUMNS = (
    "movie_id",
    "plot_summary",
    "duration_minutes",
    "genres",
    "movie_rating",
    "release_date",
    "plot_synopsis",
)
_RAW_DTYPES = {
    "review_date": "datetime64[ns]", "movie_id": object, "user_id": object, "is_spoiler": bool,
    "review_text": object, "rating": "float64", "review_summary": object, "source_line": "int64",
}  # fmt: skip
_PROGRESS_EVERY = 100_000


@dataclass(frozen=True)
class BadLine:
    """A source line kept aside with the reason it was refused."""

    file: str
    line_no: int
    reason: str
    text: str


class TooManyBadLinesError(ValueError):
    """More lines failed to parse than the configured share allows."""


@dataclass
class ReviewReadResult:
    """Rows of the requested months, by partition key, plus what was refused."""

    by_month: dict[str, pd.DataFrame]
    bad_lines: list[BadLine]
    n_lines: int
    n_other_months: int = 0


@dataclass
class _Columns:
    values: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in RAW_REVIEW_COLUMNS})

    def append(self, row: Mapping[str, Any]) -> None:
        for column, values in self.values.items():
            values.append(row[column])

    def frame(self) -> pd.DataFrame:
        # Explicit dtypes, so that an empty month has the same schema as a full one.
        return pd.DataFrame(
            {c: pd.Series(v, dtype=_RAW_DTYPES[c]) for c, v in self.values.items()},
            columns=list(RAW_REVIEW_COLUMNS),
        )


def empty_reviews() -> pd.DataFrame:
    """The raw review schema with no rows: a month that no file holds."""
    return _Columns().frame()


def join_uri(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def source_is_synthetic(source_uri: str, storage_options: Mapping[str, Any] | None = None) -> bool:
    """True when the source folder carries the synthetic generator's marker."""
    fs, path = fsspec.core.url_to_fs(join_uri(source_uri, SYNTHETIC_MARKER), **(storage_options or {}))
    return bool(fs.exists(path))


def source_file(source_uri: str, name: str, storage_options: Mapping[str, Any] | None = None) -> str:
    """`name` in the source folder, or `name.gz` when only the compressed file is there."""
    uri = join_uri(source_uri, name)
    fs, path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
    if not fs.exists(path) and fs.exists(f"{path}.gz"):
        return f"{uri}.gz"
    return uri


def parse_review_line(line: str) -> dict[str, Any]:
    """One reviews-file line as a typed row; raises ValueError with the reason."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg}") from None
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    missing = [k for k in ("review_date", "movie_id", "user_id", "is_spoiler", "review_text") if k not in obj]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    for key in ("review_date", "movie_id", "user_id", "review_text"):
        if not isinstance(obj[key], str):
            raise ValueError(f"{key} must be a string, got {type(obj[key]).__name__}")
    if not isinstance(obj["is_spoiler"], bool):
        raise ValueError(f"is_spoiler must be true/false, got {obj['is_spoiler']!r}")
    if not obj["review_text"].strip():
        raise ValueError("review_text is empty")
    if not obj["user_id"].strip():
        raise ValueError("user_id is empty")
    summary = obj.get("review_summary")
    if summary is not None and not isinstance(summary, str):
        raise ValueError("review_summary must be a string")
    return {
        "review_date": parse_review_date(obj["review_date"]),
        "movie_id": normalize_movie_id(obj["movie_id"]),
        "user_id": obj["user_id"].strip(),
        "is_spoiler": obj["is_spoiler"],
        "review_text": obj["review_text"],
        "rating": parse_review_rating(obj.get("rating")),
        "review_summary": summary or "",
    }


def check_bad_share(file: str, bad: list[BadLine], n_lines: int, max_share: float) -> None:
    """Fail loudly, naming the file and a line, when too many lines were refused."""
    if n_lines and bad and len(bad) / n_lines > max_share:
        first = bad[0]
        raise TooManyBadLinesError(
            f"{file}: {len(bad)} of {n_lines} lines refused ({len(bad) / n_lines:.1%}, limit"
            f" {max_share:.1%}); first at line {first.line_no}: {first.reason}"
        )


def read_reviews(source_uri: str, **kwargs: Any) -> ReviewReadResult:
    """Read `IMDB_reviews.json` (or `.json.gz`) in the `source_uri` folder; see `read_review_file`."""
    uri = source_file(source_uri, REVIEWS_FILE, kwargs.get("storage_options"))
    return read_review_file(uri, **kwargs)


def read_review_file(
    uri: str,
    *,
    months: Collection[str] | None,
    valid_months: Collection[str],
    max_bad_share: float,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    storage_options: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReviewReadResult:
    """Read a reviews file (JSON lines) once, keeping the rows of `months` (all when None).

    Args:
        uri: the file, a local path or s3:// URI; gzip when it ends in `.gz`.
        months: partition keys ("2017-02-01") to keep; rows of other valid months are
            counted in `n_other_months`.
        valid_months: every partition key that exists; a review dated outside them is
            quarantined, since no partition could ever hold it.
        max_bad_share: refuse the file when more than this share of lines is bad.
        max_line_bytes: a longer line is quarantined, never held whole in memory.
        progress: called with the number of lines read so far, every 100,000 lines.
    """
    file_name = uri.rsplit("/", 1)[-1]
    wanted = set(valid_months) if months is None else set(months)
    valid = set(valid_months)
    columns: dict[str, _Columns] = {m: _Columns() for m in sorted(wanted)}
    bad: list[BadLine] = []
    n_lines = n_other = 0
    for line in source_lines(uri, max_line_bytes, storage_options):
        n_lines += 1
        if progress is not None and n_lines % _PROGRESS_EVERY == 0:
            progress(n_lines)
        try:
            if line.error is not None:
                raise ValueError(line.error)
            row = parse_review_line(line.text)
            key = month_key(row["review_date"])
            if key not in valid:
                raise ValueError(f"review month {key[:7]} is outside the partitions")
        except ValueError as err:
            bad.append(BadLine(file_name, line.line_no, str(err), line.text[:MAX_QUARANTINED_TEXT]))
            continue
        if key not in wanted:
            n_other += 1
            continue
        row["source_line"] = line.line_no
        columns[key].append(row)
    check_bad_share(uri, bad, n_lines, max_bad_share)
    by_month = {m: cols.frame() for m, cols in columns.items()}
    return ReviewReadResult(by_month=by_month, bad_lines=bad, n_lines=n_lines, n_other_months=n_other)


def parse_movie_line(line: str) -> dict[str, Any]:
    """One details-file line as a typed row; raises ValueError with the reason."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err.msg}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("movie_id"), str):
        raise ValueError("line is not a JSON object with a string movie_id")
    genres = obj.get("genre") or []
    if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
        raise ValueError("genre must be a list of strings")
    release = parse_release_date(obj.get("release_date"))
    return {
        "movie_id": normalize_movie_id(obj["movie_id"]),
        "plot_summary": str(obj.get("plot_summary") or ""),
        "duration_minutes": parse_duration_minutes(obj.get("duration")),
        "genres": [g.strip() for g in genres if g.strip()],
        "movie_rating": parse_movie_rating(obj.get("rating")),
        "release_date": pd.Timestamp(release) if release else pd.NaT,
        "plot_synopsis": str(obj.get("plot_synopsis") or ""),
    }


def read_movie_details(
    source_uri: str,
    *,
    max_bad_share: float,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    storage_options: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, list[BadLine]]:
    """Read the movie details file (or `.json.gz`); a repeated movie id keeps its first row."""
    uri = source_file(source_uri, DETAILS_FILE, storage_options)
    file_name = uri.rsplit("/", 1)[-1]
    rows: dict[str, dict[str, Any]] = {}
    bad: list[BadLine] = []
    n_lines = 0
    for line in source_lines(uri, max_line_bytes, storage_options):
        n_lines += 1
        try:
            if line.error is not None:
                raise ValueError(line.error)
            row = parse_movie_line(line.text)
        except ValueError as err:
            bad.append(BadLine(file_name, line.line_no, str(err), line.text[:MAX_QUARANTINED_TEXT]))
            continue
        rows.setdefault(row["movie_id"], row)
    check_bad_share(uri, bad, n_lines, max_bad_share)
    frame = pd.DataFrame(list(rows.values()), columns=list(MOVIE_COLUMNS))
    frame["release_date"] = pd.to_datetime(frame["release_date"])
    return frame.astype({"duration_minutes": "float64", "movie_rating": "float64"}), bad


def merge_results(results: list[ReviewReadResult]) -> ReviewReadResult:
    """One result from several files read for the same months."""
    months = sorted({m for r in results for m in r.by_month})
    by_month = {
        m: pd.concat([r.by_month[m] for r in results if m in r.by_month], ignore_index=True) for m in months
    }
    return ReviewReadResult(
        by_month=by_month,
        bad_lines=[b for r in results for b in r.bad_lines],
        n_lines=sum(r.n_lines for r in results),
        n_other_months=sum(r.n_other_months for r in results),
    )
