"""The review-month partitions, bounded by the settings (first month of the data on)."""

import dagster as dg
import pandas as pd
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from spoiler_assets.settings import Settings


def review_months(settings: Settings) -> dg.MonthlyPartitionsDefinition:
    """Monthly partitions from the data's first month to its last (open-ended if unset)."""
    end = None
    if settings.last_month:
        end = (pd.Timestamp(f"{settings.last_month}-01") + pd.offsets.MonthBegin(1)).strftime("%Y-%m-%d")
    return dg.MonthlyPartitionsDefinition(
        start_date=f"{settings.first_month}-01", end_date=end, end_offset=0 if end else 1
    )


def all_months_tags(partitions_def: dg.PartitionsDefinition) -> dict[str, str]:
    """Run tags for one run over every partition (a single-run backfill): how the
    champion and retraining jobs, which hold monthly and unpartitioned assets, run."""
    keys = partitions_def.get_partition_keys()
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
