"""Ingestion: the Kaggle-format source files as raw, partitioned assets."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg
import pandas as pd

from spoiler_assets.assets.groups import INGESTION
from spoiler_assets.data.kaggle import (
    BadLine,
    ReviewReadResult,
    TooManyBadLinesError,
    empty_reviews,
    merge_results,
)
from spoiler_assets.data.month_index import FileMonths, months_seen, needs_read
from spoiler_assets.partitions import monthly_output
from spoiler_assets.resources.locations import (
    LandingZoneResource,
    QuarantineResource,
    ReviewSourceResource,
)


def build_raw_reviews(partitions_def: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    """`raw_reviews` over the review months that the settings define."""

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=INGESTION,
        kinds={"pandas"},
    )
    def raw_reviews(
        context: dg.AssetExecutionContext,
        review_source: ReviewSourceResource,
        landing_zone: LandingZoneResource,
        quarantine: QuarantineResource,
    ) -> dg.Output[Any]:
        """Reviews as read from `IMDB_reviews.json` (or `.json.gz`) and the files in the
        landing zone, one partition per review month.

        Incremental: a run reads only the files that hold its months. The landing zone
        keeps a month index (`.month_index/`): for each version (size, modification time,
        ETag) of the source file and of each landed file, the rows per month that a read
        saw. A file whose index says it holds none of the run's months is not opened, so
        landing a month reads that month's landed file(s), plus the source file only when
        it holds rows of that month (late reviews of an old month). Why an index and not
        the file's name or the sensor's cursor: a landed file may hold several months,
        under any name, and the month set of a file is only known by reading it; recording
        what each read saw costs nothing extra, and an entry that is missing, torn or of
        an older version only means a read, never a lost row. A landed file, when read,
        is read whole, so its entry is complete; the source's entry is complete after a
        run of every month (the initial load), until then a month outside the runs so far
        reads it again. A backfill of many months runs as one run that reads the source
        file once.

        Lines that are not UTF-8, are over the size cap, do not parse or break the schema
        are quarantined with their line number and reason, and the rest is read; a landed
        file with too many of them is refused whole (and quarantined), not retried.
        """
        months = context.partition_keys
        valid_months = partitions_def.get_partition_keys()
        plan = _plan_reads(review_source, landing_zone, months)
        results: list[ReviewReadResult] = []
        if plan.source is not None:
            name, version = plan.source
            result = review_source.read_reviews(
                months=months,
                valid_months=valid_months,
                progress=lambda n: context.log.info(f"read {n:,} review lines"),
            )
            landing_zone.record_months(f"source/{name}", months_seen(version, result, months))
            results.append(result)
        landed, refused = _read_landed(landing_zone, review_source, plan.landed, months, valid_months)
        result = merge_results(results + landed)
        result.bad_lines.extend(refused)
        metadata: dict[str, Any] = {
            "corpus": review_source.corpus_label(),
            "source": review_source.base_uri,
            "files_read": dg.MetadataValue.json(plan.read_names()),
            "files_skipped_by_month_index": plan.n_skipped,
            "landed_files_read": len(landed),
            "landed_files_refused": len(refused),
            "rows": sum(len(f) for f in result.by_month.values()),
            "partitions": len(months),
            "lines_read": result.n_lines,
            "rows_in_other_months": result.n_other_months,
            "quarantined_lines": len(result.bad_lines),
        }
        if result.bad_lines:
            name = f"raw_reviews/{context.run.run_id}"
            metadata["quarantine"] = dg.MetadataValue.path(quarantine.write(name, result.bad_lines))
            context.log.warning(f"{len(result.bad_lines)} review lines quarantined")
        # A month that no file read holds: the raw schema, no rows.
        by_month = {m: result.by_month.get(m, empty_reviews()) for m in months}
        if len(months) == 1:
            metadata["preview"] = dg.MetadataValue.md(_preview(by_month[months[0]]))
        return monthly_output(by_month, metadata)

    return raw_reviews


@dataclass(frozen=True)
class _ReadPlan:
    """The files a run opens: the source (name, version) or None, landed name -> version."""

    source: tuple[str, str] | None
    landed: dict[str, str]
    n_skipped: int

    def read_names(self) -> list[str]:
        source = [f"source/{self.source[0]}"] if self.source else []
        return source + [f"landed/{name}" for name in self.landed]


def _plan_reads(
    review_source: ReviewSourceResource, landing_zone: LandingZoneResource, months: Sequence[str]
) -> _ReadPlan:
    name, version = review_source.reviews_file()
    read_source = needs_read(landing_zone.months_entry(f"source/{name}"), version, months)
    versions = landing_zone.list_versions()
    landed = {
        n: v
        for n, v in sorted(versions.items())
        if needs_read(landing_zone.months_entry(f"landed/{n}"), v, months)
    }
    n_skipped = (0 if read_source else 1) + len(versions) - len(landed)
    return _ReadPlan((name, version) if read_source else None, landed, n_skipped)


def _read_landed(
    landing_zone: LandingZoneResource,
    review_source: ReviewSourceResource,
    landed: dict[str, str],
    months: Sequence[str],
    valid_months: Sequence[str],
) -> tuple[list[ReviewReadResult], list[BadLine]]:
    """The landed files of the plan, each read with the source's limits and indexed; a
    refused one is recorded whole, once. A landed file is small and read for every month, so
    that its index entry is complete; only the run's months are kept."""
    results, refused = [], []
    for name, version in sorted(landed.items()):
        try:
            result = landing_zone.read(
                name, None, valid_months, review_source.max_bad_line_share, review_source.max_line_bytes
            )
        except (TooManyBadLinesError, ValueError) as err:
            refused.append(BadLine(name, 0, f"whole file refused: {err}", ""))
            # A refused version gives no rows to any month: recorded so, it is refused
            # (and quarantined) once, not by every later run.
            landing_zone.record_months(f"landed/{name}", FileMonths(version, {}, complete=True))
            continue
        landing_zone.record_months(f"landed/{name}", months_seen(version, result, None))
        wanted = {m: f for m, f in result.by_month.items() if m in months}
        other = sum(len(f) for m, f in result.by_month.items() if m not in months)
        results.append(replace(result, by_month=wanted, n_other_months=other))
    return results, refused


@dg.asset(group_name=INGESTION, kinds={"pandas"})
def movie_details(
    context: dg.AssetExecutionContext,
    review_source: ReviewSourceResource,
    quarantine: QuarantineResource,
) -> dg.Output[pd.DataFrame]:
    """Movie metadata from `IMDB_movie_details.json`: canonical ids (no trailing "/"),
    durations in minutes, numeric ratings, genre lists, release dates."""
    frame, bad_lines = review_source.read_movie_details()
    metadata: dict[str, Any] = {
        "corpus": review_source.corpus_label(),
        "movies": len(frame),
        "quarantined_lines": len(bad_lines),
        "preview": dg.MetadataValue.md(_preview(frame.drop(columns=["plot_synopsis"]))),
    }
    if bad_lines:
        uri = quarantine.write(f"movie_details/{context.run.run_id}", bad_lines)
        metadata["quarantine"] = dg.MetadataValue.path(uri)
    return dg.Output(frame, metadata=metadata)


def _preview(frame: pd.DataFrame, rows: int = 5) -> str:
    shown = frame.head(rows).copy()
    for column in shown.columns:
        if shown[column].dtype == object:
            shown[column] = shown[column].astype(str).str.slice(0, 60)
    return shown.to_markdown(index=False)
