"""Request and response bodies; limits live in `msgspec.Meta` so OpenAPI documents them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

# A long IMDB review is a few thousand characters; 20k leaves room without letting a
# single request tie up the model.
MAX_REVIEW_CHARS = 20_000
# Reviews per batch request: bounds the latency and memory of one `predict_proba` call.
MAX_BATCH = 64
# Request bodies above this answer 413. A full batch of maximal reviews is at most
# 64 * 20k characters * 4 UTF-8 bytes = 5.1 MB, so no valid request is refused.
MAX_BODY_BYTES = 8 * 1024 * 1024

# Review dates the API accepts: IMDB opened in 1990 (the Kaggle reviews start in 1998),
# and the upper bound keeps every date far inside pandas' timestamp range (1677-2262).
# A fixed window, so the schema states it exactly (a client can check before sending).
MIN_REVIEW_DATE = date(1990, 1, 1)
MAX_REVIEW_DATE = date(2099, 12, 31)
_REVIEW_DATE_PATTERN = r"^(199[0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# IMDB ids: "tt" / "ur" and up to 10 digits (today 7 or 8). `[0-9]`, not `\d`, which
# matches any Unicode digit in Python; `(?!\n)` because Python's `$` also matches before
# a final newline, JSON Schema's (ECMA) does not.
MAX_ID_DIGITS = 10
NOT_ONLY_WHITESPACE = r"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _imdb_id(prefix: str, what: str) -> msgspec.Meta:
    return msgspec.Meta(
        pattern=f"^{prefix}[0-9]{{1,{MAX_ID_DIGITS}}}$(?!\n)",
        max_length=len(prefix) + MAX_ID_DIGITS,
        description=f"Optional IMDB {what} id, `{prefix}` and 1 to {MAX_ID_DIGITS} digits"
        f" (e.g. `{prefix}0111161`); unknown ids are scored with their features missing.",
    )


ReviewText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_REVIEW_CHARS,
        # At least one character that is not whitespace, spelled out: Python's `\S` and
        # JSON Schema's (ECMA) disagree on a few characters (U+001C-U+001F, U+0085, U+FEFF).
        pattern=NOT_ONLY_WHITESPACE,
        description=f"Review text, 1 to {MAX_REVIEW_CHARS} characters, not only whitespace.",
    ),
]
MovieId = Annotated[str, _imdb_id("tt", "title")]
UserId = Annotated[str, _imdb_id("ur", "user")]
ReviewDate = Annotated[
    date,
    msgspec.Meta(
        description=f"Day the review was written (ISO date, {MIN_REVIEW_DATE} to {MAX_REVIEW_DATE});"
        " default today (UTC). Feature-store models use it for the days between release and review.",
        # Litestar copies `extra` into the OpenAPI schema; msgspec cannot bound a date itself,
        # `PredictRequest.__post_init__` does.
        extra_json_schema={"extra": {"pattern": _REVIEW_DATE_PATTERN}},
    ),
]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
SENTENCES_FLAG = (
    "Also score every sentence: its span in `review_text` and its spoiler probability and flag,"
    " from the sentence model served with the champion."
)
EXPLAIN_FLAG = (
    "Also list the n-grams that pushed the review's score toward spoiler, with their weights"
    " (models with per-n-gram weights, e.g. the TF-IDF baseline; others say they cannot)."
)


class PredictRequest(msgspec.Struct):
    """One review to score."""

    review_text: ReviewText
    movie_id: MovieId | None = None
    user_id: UserId | None = None
    review_date: ReviewDate | None = None
    sentences: Annotated[bool, msgspec.Meta(description=SENTENCES_FLAG)] = False
    explain: Annotated[bool, msgspec.Meta(description=EXPLAIN_FLAG)] = False

    def __post_init__(self) -> None:
        # Raised here, msgspec reports it as a validation error (400) at this review's path.
        if self.review_date is not None and not MIN_REVIEW_DATE <= self.review_date <= MAX_REVIEW_DATE:
            raise ValueError(
                f"review_date {self.review_date} is outside {MIN_REVIEW_DATE} to {MAX_REVIEW_DATE}"
            )


class SentenceSpan(msgspec.Struct):
    """One sentence of the submitted text and its score.

    Spans tile the text: the first starts at 0, each starts where the previous ends, the
    last ends at the text's length; whitespace after a sentence belongs to it. Offsets
    count Unicode code points (Python `str` indices, not UTF-16 units: in JavaScript
    slice `Array.from(text)`)."""

    start: Annotated[int, msgspec.Meta(ge=0, description="First character (inclusive).")]
    end: Annotated[int, msgspec.Meta(ge=1, description="One past the last character.")]
    spoiler_probability: Probability
    is_spoiler: Annotated[bool, msgspec.Meta(description="`spoiler_probability >= sentence_threshold`.")]


class NgramWeight(msgspec.Struct):
    """An n-gram of the review and its contribution to the spoiler log-odds."""

    ngram: str
    weight: Annotated[float, msgspec.Meta(description="tf-idf value x model coefficient (> 0).")]


class Explanation(msgspec.Struct):
    """Why the model leaned toward spoiler, where the model can say it."""

    available: Annotated[bool, msgspec.Meta(description="False when the model has no per-n-gram weights.")]
    ngrams: Annotated[list[NgramWeight], msgspec.Meta(description="Largest weight first; at most 5.")]
    detail: Annotated[str, msgspec.Meta(description="What the weights mean, or why there are none.")]


class PredictResponse(msgspec.Struct, omit_defaults=True):
    """Score of one review; `is_spoiler` is `spoiler_probability >= threshold`.

    `missing_features` appears only for models that read a feature store."""

    is_spoiler: bool
    spoiler_probability: Probability
    threshold: Probability
    model_name: str
    model_version: str
    missing_features: Annotated[
        list[str] | None,
        msgspec.Meta(
            description="Features the model could not look up (unknown movie or user, no earlier"
            " reviews) and scored as missing; absent for models that use no feature store."
        ),
    ] = None
    sentences: Annotated[
        list[SentenceSpan] | None,
        msgspec.Meta(description="Present when the request asked for `sentences`: every sentence, in order."),
    ] = None
    sentence_threshold: Annotated[
        Probability | None, msgspec.Meta(description="The sentence model's threshold.")
    ] = None
    sentence_model_version: Annotated[
        str | None,
        msgspec.Meta(description="Registry version of `<model_name>-sentences` that scored the sentences."),
    ] = None
    explanation: Annotated[
        Explanation | None, msgspec.Meta(description="Present when the request asked to `explain`.")
    ] = None


class BatchPredictRequest(msgspec.Struct):
    """Several reviews scored in one model call."""

    reviews: Annotated[
        list[PredictRequest],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_BATCH,
            description=f"1 to {MAX_BATCH} reviews; answers keep this order.",
        ),
    ]
    sentences: Annotated[bool, msgspec.Meta(description="For every review: " + SENTENCES_FLAG)] = False
    explain: Annotated[bool, msgspec.Meta(description="For every review: " + EXPLAIN_FLAG)] = False


class BatchPredictResponse(msgspec.Struct):
    """Scores in the order of the request's reviews."""

    predictions: list[PredictResponse]


class ModelInfo(msgspec.Struct):
    """The model being served."""

    model_name: Annotated[str, msgspec.Meta(description="Registered model name.")]
    model_version: Annotated[str, msgspec.Meta(description="Registry version of the champion.")]
    run_id: str | None
    classifier: Annotated[str, msgspec.Meta(description="`name` of the wrapped classifier.")]
    threshold: Probability
    loaded_at: datetime
    artifact_digest: Annotated[
        str | None,
        msgspec.Meta(
            description="SHA-256 of the served artifacts, equal to the version's `artifact_sha256` tag;"
            " null when the version has none (registered outside `champion_model`, not verified)."
        ),
    ] = None


class Health(msgspec.Struct):
    """Liveness: the process answers."""

    status: str = "ok"


class ErrorBody(msgspec.Struct):
    """Every error answer: the HTTP status and a message (validation errors add `extra`)."""

    status_code: int
    detail: str
