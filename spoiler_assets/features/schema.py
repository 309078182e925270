"""Names of every feature, in the order the hybrid models consume them.

The Feast definitions in `feature_repo/` declare these same names; training
(historical retrieval) and serving (online retrieval) both select columns through
`MODEL_FEATURES`, so a model's input layout is fixed here and nowhere else.
"""

from __future__ import annotations

import re

# Versioned feature service the hybrid models consume. A model records the service it
# was trained on; a new layout gets a new version instead of changing this one.
FEATURE_SERVICE = "hybrid_v1"
# Review-level statistics of stored reviews, per review (monitoring, drift, re-scoring).
REVIEW_STATS_SERVICE = "review_stats_v1"

# IMDB's genre vocabulary. Genres are multi-hot encoded over this fixed list (a movie
# has one to three), so the layout never depends on which genres a corpus happens to
# contain; anything else only counts in `genre_count`.
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary",
    "Drama", "Family", "Fantasy", "Film-Noir", "History", "Horror", "Music", "Musical",
    "Mystery", "Romance", "Sci-Fi", "Sport", "Thriller", "War", "Western",
)  # fmt: skip


def genre_feature(genre: str) -> str:
    return "genre_" + re.sub(r"[^a-z0-9]+", "_", genre.lower()).strip("_")


GENRE_FEATURES: tuple[str, ...] = tuple(genre_feature(g) for g in GENRES)

# movie_fv: static metadata per movie. `release_epoch_days` feeds the on-demand
# features; the model sees the release year instead.
MOVIE_FEATURES: tuple[str, ...] = (
    "duration_minutes",
    "imdb_rating",
    "release_year",
    "synopsis_words",
    "genre_count",
    *GENRE_FEATURES,
)
MOVIE_FV_FIELDS: tuple[str, ...] = (*MOVIE_FEATURES, "release_epoch_days")

# user_history_fv: what was known about the reviewer strictly before the review.
USER_FEATURES: tuple[str, ...] = ("user_prior_reviews", "user_prior_spoiler_share")

# review_text_odfv / review_fv: statistics of the review text itself.
TEXT_FEATURES: tuple[str, ...] = (
    "review_words",
    "review_sentences",
    "mean_word_length",
    "sentiment_score",
    "positive_word_share",
    "negative_word_share",
    "spoiler_cue_share",
    "capitalized_word_share",
    "exclamation_share",
    "question_share",
    "digit_share",
)

# review_context_odfv: the review relative to its movie, computed at request time.
CONTEXT_FEATURES: tuple[str, ...] = (
    "words_per_movie_minute",
    "words_per_synopsis_word",
    "days_since_release",
)

# What the hybrid models read from `FEATURE_SERVICE`, in this order, before the
# sentence embedding is appended.
MODEL_FEATURES: tuple[str, ...] = (*MOVIE_FEATURES, *USER_FEATURES, *TEXT_FEATURES, *CONTEXT_FEATURES)

# Request data sent with every lookup (offline: columns of the entity frame).
REQUEST_FIELDS: tuple[str, ...] = ("review_text", "review_epoch_days")
ENTITY_KEYS: tuple[str, ...] = ("movie_id", "user_id")
EVENT_TIMESTAMP = "event_timestamp"
