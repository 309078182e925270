"""The Feast offline sources as tables: movies, point-in-time user history, reviews.

Timestamps are UTC. Review dates have day resolution, so "before" means "on an
earlier day" throughout.

- Movies: one row per movie stamped at its release date (the epoch when unknown), so a
  review joins the metadata as of its own date; a review written before the release
  finds only an empty row at the epoch and gets missing metadata (Feast's dask store
  would drop it otherwise, see below). The metadata itself is one snapshot of the details
  file, not a history: ratings are as scraped. An empty synopsis is unknown (NaN), not
  zero words.
- User history is point-in-time: the row stamped at midnight after day d holds the
  user's reviews on days up to d. Feast joins the latest row at or before a review's
  timestamp, so a review on day D sees exactly the reviews of days before D, never
  its own label or anything later (no look-ahead). A user's first review finds only an
  empty row stamped at the epoch and gets missing values, exactly like an unknown user
  at serving time. (The empty row is there because Feast's dask offline store drops an
  entity row whose every candidate lies in the future instead of returning it empty.)
- Reviews carry the text statistics of `text.py`, stamped with the review date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spoiler_assets.features.context import epoch_days
from spoiler_assets.features.schema import (
    EVENT_TIMESTAMP,
    GENRE_FEATURES,
    GENRES,
    MOVIE_FV_FIELDS,
    TEXT_FEATURES,
    USER_FEATURES,
)
from spoiler_assets.features.text import text_feature_columns, word_count

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def utc_days(dates: pd.Series) -> pd.Series:
    """Review dates as UTC midnights (the event timestamps of every source)."""
    ts = pd.to_datetime(dates)
    ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
    return ts.dt.normalize().astype("datetime64[ns, UTC]")


def movie_feature_table(movies: pd.DataFrame) -> pd.DataFrame:
    """`movie_fv` rows from `movie_details` (columns of `read_movie_details`)."""
    release = pd.to_datetime(movies["release_date"])
    stamped = utc_days(release).fillna(EPOCH)
    synopsis = movies["plot_synopsis"].fillna("").map(word_count).astype("float64")
    genres = movies["genres"].map(lambda g: set(g) if isinstance(g, list | tuple | np.ndarray) else set())
    table = pd.DataFrame(
        {
            "movie_id": movies["movie_id"].astype(str),
            EVENT_TIMESTAMP: stamped.to_numpy(),
            "duration_minutes": pd.to_numeric(movies["duration_minutes"]).astype("float64"),
            "imdb_rating": pd.to_numeric(movies["movie_rating"]).astype("float64"),
            "release_year": release.dt.year.astype("float64"),
            "synopsis_words": synopsis.where(synopsis > 0),
            "genre_count": genres.map(len).astype("float64"),
            "release_epoch_days": epoch_days(release),
        }
    )
    for genre, column in zip(GENRES, GENRE_FEATURES, strict=True):
        table[column] = genres.map(lambda g, genre=genre: float(genre in g))
    table = table[["movie_id", EVENT_TIMESTAMP, *MOVIE_FV_FIELDS]]
    before_release = table.loc[table[EVENT_TIMESTAMP] > EPOCH, ["movie_id"]].assign(
        **{EVENT_TIMESTAMP: EPOCH}
    )
    table = pd.concat([before_release, table], ignore_index=True)
    table[list(MOVIE_FV_FIELDS)] = table[list(MOVIE_FV_FIELDS)].astype("float64")
    return table.sort_values(["movie_id", EVENT_TIMESTAMP], kind="stable").reset_index(drop=True)


def user_history_table(reviews: pd.DataFrame) -> pd.DataFrame:
    """`user_history_fv` rows from cleaned reviews (user_id, review_date, is_spoiler).

    One row per user and review day, stamped at the following midnight, holding the
    user's review count and spoiler share over all days up to and including that day.
    """
    days = reviews.assign(day=utc_days(reviews["review_date"]), spoiler=reviews["is_spoiler"].astype(float))
    per_day = days.groupby(["user_id", "day"], sort=True).agg(
        n=("spoiler", "size"), spoilers=("spoiler", "sum")
    )
    cumulative = per_day.groupby(level="user_id").cumsum()
    table = cumulative.reset_index()
    table[EVENT_TIMESTAMP] = table["day"] + pd.Timedelta(days=1)
    table["user_prior_reviews"] = table["n"].astype("float64")
    table["user_prior_spoiler_share"] = table["spoilers"] / table["n"]
    empty = pd.DataFrame({"user_id": table["user_id"].unique(), EVENT_TIMESTAMP: EPOCH})
    table = pd.concat([empty, table[["user_id", EVENT_TIMESTAMP, *USER_FEATURES]]], ignore_index=True)
    table[list(USER_FEATURES)] = table[list(USER_FEATURES)].astype("float64")
    return table.sort_values(["user_id", EVENT_TIMESTAMP], kind="stable").reset_index(drop=True)


def review_feature_table(reviews: pd.DataFrame) -> pd.DataFrame:
    """`review_fv` rows: the text statistics of each review, stamped with its date."""
    stats = pd.DataFrame(text_feature_columns(reviews["review_text"]), index=reviews.index)
    table = pd.DataFrame(
        {"review_id": reviews["review_id"].astype(str), EVENT_TIMESTAMP: utc_days(reviews["review_date"])}
    )
    table = pd.concat([table, stats[list(TEXT_FEATURES)].astype("float64")], axis=1)
    return table.reset_index(drop=True)
