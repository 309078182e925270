"""Ingestion: the Kaggle-format source files as raw, partitioned assets."""

from collections.abc import Sequence
from typing import Any

import dagster as dg
import pandas as pd

from spoiler_assets.data.kaggle import BadLine, ReviewReadResult, TooManyBadLinesError, merge_results
from spoiler_assets.resources.locations import (
    LandingZoneResource,
    QuarantineResource,
    ReviewSourceResource,
)

INGESTION = "ingestion"


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

        A backfill of many months runs as one run that reads the source file once. Lines
        that are not UTF-8, are over the size cap, do not parse or break the schema are
        quarantined with their line number and reason, and the rest is read; a landed file
        with too many of them is refused whole (and quarantined), not retried.
        """
        months = context.partition_keys
        valid_months = partitions_def.get_partition_keys()
        results = [
            review_source.read_reviews(
                months=months,
                valid_months=valid_months,
                progress=lambda n: context.log.info(f"read {n:,} review lines"),
            )
        ]
        landed, refused = _read_landed(landing_zone, review_source, months, valid_months)
        result = merge_results(results + landed)
        result.bad_lines.extend(refused)
        metadata: dict[str, Any] = {
            "corpus": review_source.corpus_label(),
            "source": review_source.base_uri,
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
        if len(months) == 1:
            frame = result.by_month[months[0]]
            metadata["preview"] = dg.MetadataValue.md(_preview(frame))
            return dg.Output(frame, metadata=metadata)
        return dg.Output(result.by_month, metadata=metadata)

    return raw_reviews


def _read_landed(
    landing_zone: LandingZoneResource,
    review_source: ReviewSourceResource,
    months: Sequence[str],
    valid_months: Sequence[str],
) -> tuple[list[ReviewReadResult], list[BadLine]]:
    """Every landed file (each read with the source's limits); a refused one is recorded whole."""
    results, refused = [], []
    for name in landing_zone.list_files():
        try:
            results.append(
                landing_zone.read(
                    name, months, valid_months, review_source.max_bad_line_share, review_source.max_line_bytes
                )
            )
        except (TooManyBadLinesError, ValueError) as err:
            refused.append(BadLine(name, 0, f"whole file refused: {err}", ""))
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
