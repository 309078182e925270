"""A reproducible, leakage-free train / validation / test split by time.

Why by time: the deployed model always scores reviews newer than the ones it learned
from, and drift monitoring compares the same windows. Cuts fall between calendar days,
so reviews of one day never straddle two splits; texts are already unique after
cleaning, so no review text can sit in two splits. Movies and users do recur across
splits, as they do in production.

A repeated text (one row kept by cleaning, the earliest) takes its label from the
majority of its copies written before its split ends (a tie counts as a spoiler): copies
in a later split would carry labels from the future into training or validation.
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

SPLITS = ("train", "valid", "test")


class LeakageError(ValueError):
    """The same review text, or a later review, ended up on the wrong side of a cut."""


class SplitConfig(BaseModel):
    """The split's shares; `ReviewSplitConfig` (`review_split`'s run config) inherits them."""

    model_config = ConfigDict(frozen=True)

    valid_share: float = Field(default=0.1, description="Share of reviews (by time) for validation")
    test_share: float = Field(default=0.1, description="Share of the newest reviews held out for test")


DEFAULT_SPLIT = SplitConfig()


def split_by_time(reviews: pd.DataFrame, config: SplitConfig = DEFAULT_SPLIT) -> pd.DataFrame:
    """Return `reviews` with a `split` column: the oldest rows train, the newest test."""
    if not 0 < config.valid_share < 1 or not 0 < config.test_share < 1:
        raise ValueError("valid_share and test_share must be between 0 and 1")
    if config.valid_share + config.test_share >= 1:
        raise ValueError("valid_share + test_share must leave rows for training")
    days = reviews["review_date"].dt.normalize()
    share_before = days.map(days.value_counts(normalize=True).sort_index().cumsum().shift(fill_value=0.0))
    split = pd.Series("train", index=reviews.index)
    split[share_before >= 1 - config.valid_share - config.test_share] = "valid"
    split[share_before >= 1 - config.test_share] = "test"
    result = reviews.assign(split=pd.Categorical(split, categories=list(SPLITS)))
    if "copy_labels" in result:
        result["is_spoiler"] = _labels_within_split(result, days)
    counts = result["split"].value_counts()
    if (counts == 0).any():
        raise ValueError(f"not enough distinct review days to fill every split: {counts.to_dict()}")
    check_no_leakage(result)
    return result


def _labels_within_split(split: pd.DataFrame, days: pd.Series) -> pd.Series:
    """Majority label of each row's copies dated before its split's end (the first day of
    the next split); rows without copies keep their label."""
    starts = days.groupby(split["split"], observed=True).min()
    ends = {s: starts[n] for s, n in zip(SPLITS, SPLITS[1:], strict=False) if s in starts and n in starts}
    labels = split["is_spoiler"].astype(bool).copy()
    for index, copies in split["copy_labels"].dropna().items():
        end = ends.get(split.at[index, "split"])
        votes = [label for date, label in copies if end is None or date < end]
        labels[index] = sum(votes) * 2 >= len(votes)
    return labels


def check_no_leakage(split: pd.DataFrame) -> None:
    """Raise `LeakageError` if a text is in two splits or the splits overlap in time."""
    per_text = split.groupby("text_hash", observed=True)["split"].nunique()
    if (per_text > 1).any():
        raise LeakageError(f"{int((per_text > 1).sum())} review texts appear in two splits")
    bounds = split.groupby("split", observed=True)["review_date"].agg(["min", "max"])
    present = [s for s in SPLITS if s in bounds.index]
    for earlier, later in zip(present, present[1:], strict=False):
        if bounds.loc[earlier, "max"] >= bounds.loc[later, "min"]:
            raise LeakageError(f"{earlier} reaches past the start of {later}")
