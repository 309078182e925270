"""Spoiler Shield feature definitions (declarative; applied by the `feature_registry` asset).

Source paths are relative to the offline root, which the pipeline resolves to a local
folder (embedded default) or an S3 prefix (production). Every timestamp is UTC and has
day resolution, like the review dates.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, String

from spoiler_assets.features.schema import GENRE_FEATURES

# No expiry: a movie's metadata and a user's history stay valid until replaced.
FOREVER = timedelta(0)

# The film a review is about (IMDB title id, e.g. "tt0111161").
movie = Entity(name="movie", join_keys=["movie_id"], value_type=ValueType.STRING, description="A film")
# The reviewer (IMDB user id).
user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING, description="A reviewer")
# One stored review (digest of user, movie and text, as cleaned_reviews builds it).
review = Entity(name="review", join_keys=["review_id"], value_type=ValueType.STRING, description="A review")

# One row per movie, stamped at the epoch: static metadata valid for every review.
movie_source = FileSource(
    name="movie_source", path="sources/movie_features.parquet", timestamp_field="event_timestamp"
)
# One row per user and review day, stamped at the following midnight (point in time).
user_history_source = FileSource(
    name="user_history_source", path="sources/user_history.parquet", timestamp_field="event_timestamp"
)
# One parquet file per review month: a new month adds a file, the others stay as written.
# (Not `review_source`: that name is the Dagster resource that reads the Kaggle files.)
review_stats_source = FileSource(
    name="review_stats_source", path="sources/review_features", timestamp_field="event_timestamp"
)

# Movie metadata from the details file; genres multi-hot over IMDB's genre list.
movie_fv = FeatureView(
    name="movie_fv",
    entities=[movie],
    ttl=FOREVER,
    source=movie_source,
    tags={"static": "true"},
    description="Movie metadata: runtime, IMDB rating, release, synopsis length, genres",
    schema=[
        Field(name="duration_minutes", dtype=Float64, description="Runtime in minutes"),
        Field(name="imdb_rating", dtype=Float64, description="IMDB rating of the movie, 1-10"),
        Field(name="release_year", dtype=Float64, description="Year of release"),
        Field(name="synopsis_words", dtype=Float64, description="Words in the synopsis (missing if none)"),
        Field(name="genre_count", dtype=Float64, description="Number of genres listed"),
        *[Field(name=g, dtype=Float64, description="1 if the movie has this genre") for g in GENRE_FEATURES],
        Field(name="release_epoch_days", dtype=Float64, description="Release date, days since 1970-01-01"),
    ],
)

# The reviewer's record strictly before each review: no look-ahead.
user_history_fv = FeatureView(
    name="user_history_fv",
    entities=[user],
    ttl=FOREVER,
    source=user_history_source,
    description="Reviews and spoiler share of the user on earlier days (point in time)",
    schema=[
        Field(name="user_prior_reviews", dtype=Float64, description="Reviews written on earlier days"),
        Field(name="user_prior_spoiler_share", dtype=Float64, description="Share of them flagged spoilers"),
    ],
)

# Text statistics (spoiler_assets/features/text.py), by feature name.
_TEXT_STATISTICS = {
    "review_words": "Length in words",
    "review_sentences": "Sentences (at least 1)",
    "mean_word_length": "Mean letters per word",
    "sentiment_score": "(positive - negative) lexicon words per word",
    "positive_word_share": "Positive lexicon words per word",
    "negative_word_share": "Negative lexicon words per word",
    "spoiler_cue_share": "Spoiler cue words per word",
    "capitalized_word_share": "Capitalised words (names) per word",
    "exclamation_share": "Exclamation marks per word",
    "question_share": "Question marks per word",
    "digit_share": "Numbers per word",
}

# Text statistics of stored reviews, one partition file per month (monitoring, drift).
review_fv = FeatureView(
    name="review_fv",
    entities=[review],
    ttl=FOREVER,
    source=review_stats_source,
    description="Text statistics of stored reviews: length, lexicon sentiment, spoiler cues, style",
    schema=[Field(name=n, dtype=Float64, description=d) for n, d in _TEXT_STATISTICS.items()],
)

# What arrives with a review to score: its text and the day it was written.
review_request = RequestSource(
    name="review_request",
    schema=[
        Field(name="review_text", dtype=String, description="The review"),
        Field(name="review_epoch_days", dtype=Float64, description="Day written, days since 1970-01-01"),
    ],
)


# The same statistics as review_fv, computed from the request: a new review has no row.
# (Fields of on-demand views carry no description: Feast compares them, descriptions
# included, with the fields it infers by running the function.)
@on_demand_feature_view(
    sources=[review_request],
    schema=[Field(name=n, dtype=Float64) for n in _TEXT_STATISTICS],
    mode="python",
    description="Text statistics of the review being scored (same code as review_fv)",
)
def review_text_odfv(inputs: dict) -> dict:
    from spoiler_assets.features.text import text_feature_columns

    return text_feature_columns(inputs["review_text"])


# The review relative to its movie: long reviews of short films, reviews right after release.
@on_demand_feature_view(
    sources=[review_request, movie_fv],
    schema=[
        Field(name="words_per_movie_minute", dtype=Float64),  # review words per minute of runtime
        Field(name="words_per_synopsis_word", dtype=Float64),  # review words per synopsis word
        Field(name="days_since_release", dtype=Float64),  # days from release to the review
    ],
    mode="python",
    description="Review length and timing relative to the movie",
)
def review_context_odfv(inputs: dict) -> dict:
    from spoiler_assets.features.context import context_feature_columns

    return context_feature_columns(
        inputs["review_text"],
        inputs["review_epoch_days"],
        inputs["duration_minutes"],
        inputs["synopsis_words"],
        inputs["release_epoch_days"],
    )


# v1 of the hybrid models' features (XGBoost and MLP on embeddings + these).
hybrid_v1 = FeatureService(
    name="hybrid_v1",
    features=[
        movie_fv[[f.name for f in movie_fv.schema if f.name != "release_epoch_days"]],
        user_history_fv,
        review_text_odfv,
        review_context_odfv,
    ],
    description="Inputs of xgboost_model and mlp_model besides the sentence embedding",
)

# Statistics of stored reviews, looked up by review id.
review_stats_v1 = FeatureService(
    name="review_stats_v1", features=[review_fv], description="Text statistics of stored reviews"
)
