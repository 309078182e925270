"""The review-month partitions, bounded by the settings (first month of the data on), and
the two shapes a monthly value takes when one run covers several months."""

from collections.abc import Mapping
from typing import Any, TypeVar

import dagster as dg
import pandas as pd

from spoiler_assets.settings import Settings

T = TypeVar("T")

# The run tags of a single-run backfill, as Dagster documents them for launching one run
# over a partition range.
PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


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
    return {PARTITION_RANGE_START: keys[0], PARTITION_RANGE_END: keys[-1]}


def partition_values(value: T | Mapping[str, T]) -> list[T]:
    """The per-month values an unpartitioned asset receives from a monthly one: a
    `{month: value}` dict, or the bare value when the partitions hold a single month."""
    return list(value.values()) if isinstance(value, Mapping) else [value]


def values_by_month(keys: list[str], value: T | Mapping[str, T]) -> dict[str, T]:
    """`{month: value}` of a monthly input in a run over `keys` (a single-run backfill
    hands every month as a dict, a one-month run the bare value)."""
    return dict(value) if isinstance(value, Mapping) else {keys[0]: value}


def monthly_output(by_month: Mapping[str, T], metadata: Mapping[str, Any]) -> dg.Output[Any]:
    """What a monthly asset returns: the bare value for a one-month run, else the
    `{month: value}` dict that the IO managers store one object per month from."""
    value: Any = next(iter(by_month.values())) if len(by_month) == 1 else dict(by_month)
    return dg.Output(value, metadata=dict(metadata))
