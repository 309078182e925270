import pandas as pd
import pytest

from spoiler_assets.assets.preparation import ReviewSplitConfig
from spoiler_assets.data.splitting import LeakageError, SplitConfig, check_no_leakage, split_by_time


def _reviews(n_days: int = 50, per_day: int = 4) -> pd.DataFrame:
    days = pd.date_range("2015-01-01", periods=n_days, freq="D").repeat(per_day)
    return pd.DataFrame(
        {
            "review_date": days,
            "text_hash": [f"h{i}" for i in range(len(days))],
            "review_id": range(len(days)),
            "is_spoiler": [i % 4 == 0 for i in range(len(days))],
        }
    )


def test_newest_reviews_are_the_test_set() -> None:
    split = split_by_time(_reviews())
    bounds = split.groupby("split", observed=True)["review_date"].agg(["min", "max"])
    assert (
        bounds.loc["train", "max"]
        < bounds.loc["valid", "min"]
        <= bounds.loc["valid", "max"]
        < bounds.loc["test", "min"]
    )


def test_shares_are_close_to_config() -> None:
    split = split_by_time(_reviews(), SplitConfig(valid_share=0.2, test_share=0.1))
    shares = split["split"].value_counts(normalize=True)
    assert shares["valid"] == pytest.approx(0.2, abs=0.03) and shares["test"] == pytest.approx(0.1, abs=0.03)


def test_split_is_reproducible() -> None:
    frame = _reviews()
    assert (
        split_by_time(frame)["split"].tolist()
        == split_by_time(frame.sample(frac=1, random_state=1)).sort_index()["split"].tolist()
    )


def test_one_day_never_straddles_two_splits() -> None:
    split = split_by_time(_reviews(n_days=20, per_day=9))
    assert split.groupby("review_date")["split"].nunique().max() == 1


def test_same_text_in_two_splits_is_leakage() -> None:
    split = split_by_time(_reviews())
    split.loc[split.index[-1], "text_hash"] = split.loc[split.index[0], "text_hash"]
    with pytest.raises(LeakageError, match="two splits"):
        check_no_leakage(split)


def test_too_few_days_is_an_error() -> None:
    with pytest.raises(ValueError, match="distinct review days"):
        split_by_time(_reviews(n_days=1))


def test_repeated_text_votes_only_with_copies_inside_its_own_split() -> None:
    frame = _reviews().assign(copy_labels=None)
    day = pd.Timestamp
    # kept in train (2015-01-01); two later copies say "spoiler", one in train, two in test
    frame.at[1, "copy_labels"] = [
        (day("2015-01-01"), False), (day("2015-01-10"), False), (day("2015-02-18"), True),
        (day("2015-02-19"), True),
    ]  # fmt: skip
    # kept in valid; its only other copy in valid votes spoiler (a tie counts as a spoiler)
    valid_row = frame.index[frame["review_date"] == day("2015-02-10")][0]
    frame.at[valid_row, "copy_labels"] = [(day("2015-02-10"), False), (day("2015-02-11"), True)]

    split = split_by_time(frame)

    assert split.at[1, "split"] == "train" and not split.at[1, "is_spoiler"]  # test copies ignored
    assert split.at[valid_row, "split"] == "valid" and split.at[valid_row, "is_spoiler"]
    unchanged = split["copy_labels"].isna()
    assert (split.loc[unchanged, "is_spoiler"] == frame.loc[unchanged, "is_spoiler"]).all()


def test_run_config_defaults_are_split_config_defaults() -> None:
    assert ReviewSplitConfig().split() == SplitConfig()
    assert ReviewSplitConfig(test_share=0.2).split() == SplitConfig(test_share=0.2)
