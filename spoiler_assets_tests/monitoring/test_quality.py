import pandas as pd

from spoiler_assets.monitoring import quality


def _frame(dates: list[str], spoilers: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {"review_date": pd.to_datetime(dates), "movie_id": "tt1", "user_id": "u", "is_spoiler": spoilers,
         "review_text": "t"}
    )  # fmt: skip


def test_schema_names_the_wrong_column() -> None:
    frame = _frame(["2017-01-02"], [True]).assign(is_spoiler="yes")
    outcome = quality.schema(frame)
    assert not outcome.passed and outcome.figures == {"is_spoiler": "object"}


def test_dates_outside_the_month_fail() -> None:
    frame = _frame(["2017-01-02", "2017-02-01"], [True, False])
    outcome = quality.dates_within(frame, pd.Timestamp("2017-01-01"), pd.Timestamp("2017-02-01"))
    assert not outcome.passed and outcome.figures["outside"] == 1


def test_label_share_bounds() -> None:
    assert quality.label_share_within(
        _frame(["2017-01-02"] * 4, [True, False, False, False]), 0.05, 0.6
    ).passed
    assert not quality.label_share_within(_frame(["2017-01-02"] * 2, [True, True]), 0.05, 0.6).passed


def test_share_limit_reports_figures() -> None:
    outcome = quality.share_at_most("duplicate_rows", 10, 100, 0.05)
    assert not outcome.passed and outcome.figures["share"] == 0.1


def test_metric_floor() -> None:
    scores = pd.DataFrame({"valid_roc_auc": [0.55], "test_roc_auc": [0.7]}, index=["baseline_model"])
    assert not quality.metric_floor(scores, "baseline_model", "valid_roc_auc", 0.6).passed
    assert quality.metric_floor(scores, "baseline_model", "test_roc_auc", 0.6).passed
