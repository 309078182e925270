"""Asset checks: data quality on the reviews, validation and test metrics of each model.

Severity: ERROR where the data is wrong (schema, dates outside their month); WARN where it
is unusual and worth a look (shares out of bounds).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from spoiler_assets.models.comparison import Comparison
from spoiler_assets.models.promotion import DEFAULT_GATE
from spoiler_assets.monitoring import quality
from spoiler_assets.partitions import values_by_month
from spoiler_assets.resources.locations import ReviewSourceResource

# ROC-AUC below this means a model learned next to nothing (the gate's floor too).
METRIC_FLOOR = DEFAULT_GATE.roc_auc_floor


def _result(outcome: quality.Outcome, severity: dg.AssetCheckSeverity, **key: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={k: v for k, v in outcome.figures.items()},
        **key,
    )


def _worst(outcomes: dict[str, quality.Outcome]) -> quality.Outcome:
    failed = {m: o for m, o in outcomes.items() if not o.passed}
    if not failed:
        return quality.Outcome(True, f"{len(outcomes)} month(s) fine")
    first_month, first = next(iter(failed.items()))
    figures = {"failed_months": len(failed), "first_failed_month": first_month, **first.figures}
    return quality.Outcome(
        False, f"{len(failed)} month(s) failed; {first_month}: {first.description}", figures
    )


def build_raw_review_checks(partitions_def: dg.MonthlyPartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(asset="raw_reviews", partitions_def=partitions_def, description="Columns and types")
    def raw_reviews_schema(context: dg.AssetCheckExecutionContext, raw_reviews: Any) -> dg.AssetCheckResult:
        months = values_by_month(context.partition_keys, raw_reviews)
        return _result(_worst({m: quality.schema(f) for m, f in months.items()}), dg.AssetCheckSeverity.ERROR)

    @dg.asset_check(asset="raw_reviews", partitions_def=partitions_def, description="Dates inside the month")
    def raw_reviews_dates(context: dg.AssetCheckExecutionContext, raw_reviews: Any) -> dg.AssetCheckResult:
        outcomes = {}
        for month, frame in values_by_month(context.partition_keys, raw_reviews).items():
            start = pd.Timestamp(month)
            outcomes[month] = quality.dates_within(frame, start, start + pd.offsets.MonthBegin(1))
        return _result(_worst(outcomes), dg.AssetCheckSeverity.ERROR)

    @dg.asset_check(
        asset="raw_reviews",
        partitions_def=partitions_def,
        description="Quarantined lines stay rare: warn past a tenth of the share that fails the read",
    )
    def raw_reviews_quarantine(
        context: dg.AssetCheckExecutionContext, review_source: ReviewSourceResource
    ) -> dg.AssetCheckResult:
        # The read fails outright past `max_bad_line_share`; well below that, a growing
        # quarantine is still worth a look (a format change upstream, a broken export).
        metadata = _latest_metadata(context, "raw_reviews")
        bad = int(metadata["quarantined_lines"].value) if "quarantined_lines" in metadata else 0
        read = int(metadata["lines_read"].value) if "lines_read" in metadata else 0
        outcome = quality.share_at_most("quarantined_lines", bad, read, review_source.max_bad_line_share / 10)
        return _result(outcome, dg.AssetCheckSeverity.WARN)

    return [raw_reviews_schema, raw_reviews_dates, raw_reviews_quarantine]


def _latest_metadata(context: dg.AssetCheckExecutionContext, asset: str) -> Mapping[str, Any]:
    event = context.instance.get_latest_materialization_event(dg.AssetKey(asset))
    return event.asset_materialization.metadata if event and event.asset_materialization else {}


@dg.asset_check(asset="cleaned_reviews", description="No nulls where a review cannot do without")
def cleaned_reviews_nulls(cleaned_reviews: pd.DataFrame) -> dg.AssetCheckResult:
    columns = ["review_text", "review_date", "movie_id", "user_id", "is_spoiler"]
    return _result(quality.null_shares(cleaned_reviews, columns, 0.0), dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset="cleaned_reviews", description="Spoiler share between 5% and 60%")
def cleaned_reviews_label_share(cleaned_reviews: pd.DataFrame) -> dg.AssetCheckResult:
    return _result(quality.label_share_within(cleaned_reviews, 0.05, 0.6), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset="cleaned_reviews", description="Duplicates removed and metadata gaps stay small")
def cleaned_reviews_duplicates(
    context: dg.AssetCheckExecutionContext, cleaned_reviews: pd.DataFrame
) -> dg.AssetCheckResult:
    metadata = _latest_metadata(context, "cleaned_reviews")
    removed = int(metadata["duplicate_rows_removed"].value) if "duplicate_rows_removed" in metadata else 0
    outcome = quality.share_at_most("duplicate_rows", removed, removed + len(cleaned_reviews), 0.05)
    return _result(outcome, dg.AssetCheckSeverity.WARN)


def _model_check(asset: str) -> dg.AssetChecksDefinition:
    # On model_comparison, where every model's figures are: one check per model, on both
    # splits. Not blocking: a weak model that loses the comparison serves nobody, and the
    # winner has to clear the same floor in champion_model's blocking promotion_gate.
    @dg.asset_check(
        asset="model_comparison",
        name=f"{asset}_above_floor",
        description=f"{asset}: validation and test ROC-AUC at least {METRIC_FLOOR}",
    )
    def check(model_comparison: Comparison) -> dg.AssetCheckResult:
        outcomes = [
            quality.metric_floor(model_comparison.scores, asset, f"{split}_roc_auc", METRIC_FLOOR)
            for split in ("valid", "test")
        ]
        figures = {k: v for outcome in outcomes for k, v in outcome.figures.items()}
        combined = quality.Outcome(
            all(o.passed for o in outcomes), "; ".join(o.description for o in outcomes), figures
        )
        return _result(combined, dg.AssetCheckSeverity.ERROR)

    return check


def build_model_checks(competing: Sequence[str]) -> list[dg.AssetChecksDefinition]:
    """One floor check per competing model asset (SPOILER_MODELS): a model left out has no
    figures in the comparison to check."""
    return [_model_check(asset) for asset in competing]
