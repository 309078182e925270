"""On-demand features: the review relative to its movie, at the time it was written.

Feast runs `context_feature_columns` (through `review_context_odfv`) on the joined
movie features and the request data, offline during historical retrieval and online
per request, so both paths compute these numbers with this code. A movie that is not
in the store arrives as None (online) or NaN (offline); either gives NaN here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd

from spoiler_assets.features.schema import CONTEXT_FEATURES
from spoiler_assets.features.text import word_count

_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
_DAY = pd.Timedelta(days=1)


def epoch_days(timestamps: pd.Series) -> pd.Series:
    """Whole days since 1970-01-01 UTC (naive timestamps are read as UTC), as floats."""
    ts = pd.to_datetime(timestamps)
    ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
    return ((ts.dt.normalize() - _EPOCH) / _DAY).astype("float64")


def today_epoch_days(now: datetime | None = None) -> float:
    """The epoch day of `now` (default: the current UTC time): a review written today."""
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return float((moment.date() - date(1970, 1, 1)).days)


def _number(value: object) -> float:
    if value is None:
        return math.nan
    number = float(value)  # type: ignore[arg-type]
    return number


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator


def context_feature_columns(
    review_text: Sequence[str],
    review_epoch_days: Sequence[object],
    duration_minutes: Sequence[object],
    synopsis_words: Sequence[object],
    release_epoch_days: Sequence[object],
) -> dict[str, list[float]]:
    """`CONTEXT_FEATURES` as columns.

    Args:
        review_epoch_days: the day each review was written (`epoch_days`).
        duration_minutes, synopsis_words, release_epoch_days: the movie's features;
            None or NaN when the movie is unknown.
    """
    out: dict[str, list[float]] = {name: [] for name in CONTEXT_FEATURES}
    for text, day, minutes, synopsis, release in zip(
        review_text, review_epoch_days, duration_minutes, synopsis_words, release_epoch_days, strict=True
    ):
        words = float(word_count(text))
        out["words_per_movie_minute"].append(_ratio(words, _number(minutes)))
        out["words_per_synopsis_word"].append(_ratio(words, _number(synopsis)))
        out["days_since_release"].append(_number(day) - _number(release))
    return out
