"""Preparation: cleaned reviews and the train / validation / test split."""

from typing import Any

import dagster as dg
import pandas as pd

from spoiler_assets.assets.groups import PREPARATION
from spoiler_assets.data.cleaning import clean_reviews
from spoiler_assets.data.splitting import SplitConfig, split_by_time
from spoiler_assets.partitions import partition_values
from spoiler_assets.resources.locations import ReviewSourceResource


@dg.asset(group_name=PREPARATION, kinds={"pandas"})
def cleaned_reviews(
    raw_reviews: Any, movie_details: pd.DataFrame, review_source: ReviewSourceResource
) -> dg.Output[pd.DataFrame]:
    """All review months cleaned: normalised text, parsed dates, numeric ratings, movie
    metadata joined (reviews without a details row are kept), exact duplicates resolved
    (earliest copy kept, majority label, a tie counts as spoiler).

    Recomputed over all months, on purpose: a duplicate group spans months (a review
    re-posted, or re-landed, later), so one new month can change which copy is earliest
    and the majority label of rows in older months. It runs in the retraining jobs, not
    when a month lands (`landing_job` materializes only `raw_reviews` and monitoring)."""
    raw = pd.concat(partition_values(raw_reviews), ignore_index=True)
    cleaned, report = clean_reviews(raw, movie_details)
    return dg.Output(
        cleaned,
        metadata={
            "corpus": review_source.corpus_label(),
            "rows": report.n_output,
            "duplicate_rows_removed": report.n_duplicate_rows_removed,
            "conflicting_duplicate_groups": report.n_conflicting_duplicate_groups,
            "reviews_without_movie_details": report.n_without_movie_details,
            "spoiler_share": float(cleaned["is_spoiler"].mean()) if len(cleaned) else 0.0,
            "first_review": str(cleaned["review_date"].min()),
            "last_review": str(cleaned["review_date"].max()),
        },
    )


class ReviewSplitConfig(dg.Config, SplitConfig):
    """Run config of `review_split`: the fields (defaults, descriptions) of `SplitConfig`."""

    def split(self) -> SplitConfig:
        return SplitConfig(**self.model_dump())


@dg.asset(group_name=PREPARATION, kinds={"pandas"})
def review_split(
    config: ReviewSplitConfig, cleaned_reviews: pd.DataFrame, review_source: ReviewSourceResource
) -> dg.Output[pd.DataFrame]:
    """Cleaned reviews with a `split` column (train / valid / test), cut by time between
    calendar days: the newest reviews are the test set, and no text is in two splits.

    Recomputed over all history, on purpose: the cut days are time quantiles of every
    review, so a new month moves them and changes the split of older rows (the previous
    test month becomes validation or training), and the no-text-in-two-splits rule looks
    across all months."""
    split = split_by_time(cleaned_reviews, config.split())
    summary = split.groupby("split", observed=True).agg(
        rows=("review_id", "size"),
        spoiler_share=("is_spoiler", "mean"),
        first=("review_date", "min"),
        last=("review_date", "max"),
    )
    return dg.Output(
        split,
        metadata={
            "corpus": review_source.corpus_label(),
            "summary": dg.MetadataValue.md(summary.to_markdown()),
            **{f"{name}_rows": int(summary.loc[name, "rows"]) for name in summary.index},
        },
    )
